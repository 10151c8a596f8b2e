package matchers

import (
	"fmt"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/gwlblab"
	"github.com/onsi/gomega/types"
)

// Probe is traffic a matcher sends: from a node to an address, over a
// protocol (tcp: a connection; udp: a message to the echo server, which
// answers; icmp: one echo request).
type Probe struct {
	Lab   Lab
	Node  string
	Addr  string
	Proto string
	Port  int
}

// TCP is a TCP connection from node to addr:port.
func TCP(l Lab, node, addr string, port int) Probe {
	return Probe{Lab: l, Node: node, Addr: addr, Proto: "tcp", Port: port}
}

// UDP is a UDP message from node to the echo server at addr:port.
func UDP(l Lab, node, addr string, port int) Probe {
	return Probe{Lab: l, Node: node, Addr: addr, Proto: "udp", Port: port}
}

// ICMP is one ICMP echo request from node to addr.
func ICMP(l Lab, node, addr string) Probe {
	return Probe{Lab: l, Node: node, Addr: addr, Proto: "icmp"}
}

func (p Probe) String() string {
	if p.Proto == "icmp" {
		return fmt.Sprintf("%s -> %s (icmp)", p.Node, p.Addr)
	}
	return fmt.Sprintf("%s -> %s %s/%d", p.Node, p.Addr, p.Proto, p.Port)
}

// attempt is what one run of a probe found.
type attempt struct {
	err    error // the traffic's own error: nil when it got through
	traces []api.Trace
	drops  string // counters that moved
}

// run sends the probe once, tracing the packets to and from the source
// node and the destination, and notes the drop counters that moved.
func (p Probe) run() (*attempt, error) {
	if p.Lab == nil {
		return nil, fmt.Errorf("matchers: %v has no lab", p)
	}
	ctx, cancel := withTimeout()
	defer cancel()
	hosts := []string{p.Addr}
	if n, err := p.Lab.NodeInfo(ctx, p.Node); err == nil {
		for _, a := range []string{n.Address, n.PublicIP} {
			// status shows the address with its prefix length.
			if a, _, _ = strings.Cut(a, "/"); a != "" {
				hosts = append(hosts, a)
			}
		}
	} else {
		return nil, err
	}
	before, err := readCounters(ctx, p.Lab)
	if err != nil {
		return nil, err
	}
	a := &attempt{}
	a.traces, err = p.Lab.Trace(ctx, gwlblab.TraceFilter{Hosts: hosts}, func() error {
		switch p.Proto {
		case "tcp":
			a.err = p.Lab.TCP(ctx, p.Node, p.Addr, p.Port)
		case "udp":
			_, a.err = p.Lab.UDP(ctx, p.Node, p.Addr, p.Port, "probe")
		case "icmp":
			a.err = p.Lab.Ping(ctx, p.Node, p.Addr)
		default:
			return fmt.Errorf("matchers: protocol %q is not tcp, udp or icmp", p.Proto)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	after, err := readCounters(ctx, p.Lab)
	if err != nil {
		return nil, err
	}
	a.drops = moved(before, after)
	return a, nil
}

// Reach succeeds when the probe gets through (a connection, an echo, an
// answer). On failure it shows why the traffic failed, the traces of its
// packets (dropped ones first) and the drop counters that moved.
func Reach() types.GomegaMatcher { return &reachMatcher{} }

// BeBlocked succeeds when the probe does not get through; on failure it
// shows the path the packets took.
func BeBlocked() types.GomegaMatcher { return &reachMatcher{blocked: true} }

type reachMatcher struct {
	blocked bool
	last    *attempt
}

func (m *reachMatcher) Match(actual any) (bool, error) {
	p, ok := actual.(Probe)
	if !ok {
		return false, fmt.Errorf("Reach and BeBlocked take a matchers.Probe (TCP, UDP, ICMP), not %T", actual)
	}
	a, err := p.run()
	if err != nil {
		return false, err
	}
	m.last = a
	return (a.err == nil) != m.blocked, nil
}

func (m *reachMatcher) evidence() string {
	a := m.last
	if a == nil {
		return ""
	}
	var b strings.Builder
	if a.err != nil {
		fmt.Fprintf(&b, "the attempt: %v\n", a.err)
	} else {
		b.WriteString("the attempt got through\n")
	}
	fmt.Fprintf(&b, "traces of its packets (%d):\n%s", len(a.traces), formatTraces(a.traces, 12))
	fmt.Fprintf(&b, "drop counters that moved meanwhile: %s", a.drops)
	return b.String()
}

func (m *reachMatcher) FailureMessage(actual any) string {
	want := "reach its destination"
	if m.blocked {
		want = "be blocked"
	}
	return fmt.Sprintf("Expected %v to %s\n%s", actual, want, m.evidence())
}

func (m *reachMatcher) NegatedFailureMessage(actual any) string {
	want := "not reach its destination"
	if m.blocked {
		want = "not be blocked"
	}
	return fmt.Sprintf("Expected %v to %s\n%s", actual, want, m.evidence())
}
