package matchers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/gwlblab"
	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
)

// Lab is what the matchers need of a lab; *gwlblab.Lab has it.
type Lab interface {
	NodeInfo(ctx context.Context, node string) (labapi.NodeStatus, error)
	TCP(ctx context.Context, node, addr string, port int) error
	UDP(ctx context.Context, node, addr string, port int, msg string) (string, error)
	Ping(ctx context.Context, node, addr string, extra ...string) error
	Trace(ctx context.Context, f gwlblab.TraceFilter, fn func() error) ([]api.Trace, error)
	Counters(ctx context.Context) (api.Counters, error)
	Flows(ctx context.Context, f api.FlowFilter) ([]api.Flow, error)
	FlowLog(ctx context.Context, node string) ([]labapi.FlowRecord, error)
	Targets(ctx context.Context) ([]api.TargetHealth, error)
}

var _ Lab = (*gwlblab.Lab)(nil)

// Timeout bounds each look at the lab a matcher takes.
var Timeout = 30 * time.Second

func withTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), Timeout)
}

// counterSet is every drop counter: the emulator's by reason, and the GWLB
// nodes' as "<node>: <reason>".
type counterSet map[string]uint64

func readCounters(ctx context.Context, l Lab) (counterSet, error) {
	c, err := l.Counters(ctx)
	if err != nil {
		return nil, err
	}
	out := counterSet{}
	for k, v := range c.Drops {
		out[k] = v
	}
	for _, m := range c.GWLB {
		for k, v := range m.Drops {
			out[m.Node+": "+k] = v
		}
	}
	return out, nil
}

// moved lists the counters that rose from before to after, "name +N",
// sorted; "none" when nothing moved.
func moved(before, after counterSet) string {
	var out []string
	for k, v := range after {
		if v > before[k] {
			out = append(out, fmt.Sprintf("%s +%d", k, v-before[k]))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// formatTraces renders traces for a failure message: the dropped ones
// first (the failing packets), at most max in all.
func formatTraces(traces []api.Trace, max int) string {
	if len(traces) == 0 {
		return "  (no packet was traced)\n"
	}
	ordered := make([]api.Trace, 0, len(traces))
	for _, t := range traces {
		if strings.HasPrefix(t.Result, "dropped") {
			ordered = append(ordered, t)
		}
	}
	for _, t := range traces {
		if !strings.HasPrefix(t.Result, "dropped") {
			ordered = append(ordered, t)
		}
	}
	var b strings.Builder
	for i, t := range ordered {
		if i == max {
			fmt.Fprintf(&b, "  ... and %d more\n", len(ordered)-max)
			break
		}
		fmt.Fprintf(&b, "  from %s: %s\n", t.From, t.Packet)
		for _, h := range t.Hops {
			fmt.Fprintf(&b, "    %s\n", h)
		}
		fmt.Fprintf(&b, "    => %s\n", t.Result)
	}
	return b.String()
}
