package matchers

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
	"github.com/onsi/gomega/types"
)

// Connections are the traffic between two hosts over one protocol, as the
// GWLB flows and the appliances' flow logs record it: every connection
// between them, whatever the ports.
type Connections struct {
	Lab   Lab
	A, B  string // addresses, as the appliances see them (inside the VPC)
	Proto string // tcp, udp, icmp, icmpv6 or a number
}

// Conn is the traffic between addresses a and b over proto.
func Conn(l Lab, a, b, proto string) Connections {
	return Connections{Lab: l, A: a, B: b, Proto: proto}
}

func (c Connections) String() string {
	return fmt.Sprintf("%s traffic between %s and %s", c.Proto, c.A, c.B)
}

// host is the address of "addr", "addr:port" or "[addr]:port".
func host(s string) string {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String()
	}
	return s
}

func (c Connections) between(x, y string) bool {
	return (x == c.A && y == c.B) || (x == c.B && y == c.A)
}

// evidence is what the lab recorded of the connections.
type evidence struct {
	records map[string][]labapi.FlowRecord // by appliance
	flows   []api.Flow
}

// look reads the GWLB flows and every target's flow log for the
// connections.
func (c Connections) look() (*evidence, error) {
	if c.Lab == nil {
		return nil, fmt.Errorf("matchers: %v has no lab", c)
	}
	proto, err := api.ParseProto(c.Proto)
	if err != nil {
		return nil, err
	}
	ctx, cancel := withTimeout()
	defer cancel()
	ev := &evidence{records: map[string][]labapi.FlowRecord{}}
	flows, err := c.Lab.Flows(ctx, api.FlowFilter{Hosts: []string{c.A}, Proto: c.Proto})
	if err != nil {
		return nil, err
	}
	for _, f := range flows {
		if c.between(host(f.Src), host(f.Dst)) {
			ev.flows = append(ev.flows, f)
		}
	}
	ts, err := c.Lab.Targets(ctx)
	if err != nil {
		return nil, err
	}
	var appliances []string
	for _, t := range ts {
		if !slices.Contains(appliances, t.Target) {
			appliances = append(appliances, t.Target)
		}
	}
	sort.Strings(appliances)
	for _, a := range appliances {
		recs, err := c.Lab.FlowLog(ctx, a)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r.Event == "flow" && int(r.Proto) == proto && c.between(r.Src, r.Dst) {
				ev.records[a] = append(ev.records[a], r)
			}
		}
		if _, ok := ev.records[a]; !ok {
			ev.records[a] = nil
		}
	}
	return ev, nil
}

func (ev *evidence) String() string {
	var b strings.Builder
	b.WriteString("flow log records of it (appliances without flow_log record nothing):\n")
	for _, a := range sortedKeys(ev.records) {
		recs := ev.records[a]
		if len(recs) == 0 {
			fmt.Fprintf(&b, "  %s: none\n", a)
			continue
		}
		for _, r := range recs {
			fmt.Fprintf(&b, "  %s: %s %s:%d -> %s:%d (%s)\n", a, r.Dir, r.Src, r.SrcPort, r.Dst, r.DstPort, r.Cookie)
		}
	}
	if len(ev.flows) == 0 {
		b.WriteString("GWLB flows of it: none\n")
	} else {
		b.WriteString("GWLB flows of it:\n")
		for _, f := range ev.flows {
			fmt.Fprintf(&b, "  %s: %s -> %s on target %s (cookie %s, %d/%d packets)\n", f.Node, f.Src, f.Dst, f.Target, f.Cookie, f.OrigPackets, f.ReplyPackets)
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// connMatcher is a matcher over Connections: check says whether the
// evidence matches, and why not.
type connMatcher struct {
	what  string // "traverse fw-1 (original, reply)"
	check func(*evidence) (bool, string)
	ev    *evidence
	why   string
}

func (m *connMatcher) Match(actual any) (bool, error) {
	c, ok := actual.(Connections)
	if !ok {
		return false, fmt.Errorf("this matcher takes matchers.Connections (Conn), not %T", actual)
	}
	ev, err := c.look()
	if err != nil {
		return false, err
	}
	m.ev = ev
	ok, m.why = m.check(ev)
	return ok, nil
}

func (m *connMatcher) FailureMessage(actual any) string {
	return fmt.Sprintf("Expected %v to %s, but %s\n%v", actual, m.what, m.why, m.ev)
}

func (m *connMatcher) NegatedFailureMessage(actual any) string {
	return fmt.Sprintf("Expected %v not to %s\n%v", actual, m.what, m.ev)
}

// Traverse succeeds when appliance's flow log records the connections in
// each of dirs (original: from the initiator; reply); without dirs, both.
// The appliance needs flow_log: true.
func Traverse(appliance string, dirs ...string) types.GomegaMatcher {
	if len(dirs) == 0 {
		dirs = []string{"original", "reply"}
	}
	return &connMatcher{
		what: fmt.Sprintf("traverse %s (%s)", appliance, strings.Join(dirs, ", ")),
		check: func(ev *evidence) (bool, string) {
			recs, ok := ev.records[appliance]
			if !ok {
				return false, fmt.Sprintf("%s is not a target of any GWLB", appliance)
			}
			var missing []string
			for _, d := range dirs {
				if !slices.ContainsFunc(recs, func(r labapi.FlowRecord) bool { return r.Dir == d }) {
					missing = append(missing, d)
				}
			}
			if len(missing) > 0 {
				return false, fmt.Sprintf("%s recorded no %s packet of it", appliance, strings.Join(missing, " or "))
			}
			return true, ""
		},
	}
}

// BeSymmetric succeeds when each connection went through one appliance
// both ways, as the flow logs record it (the appliances need flow_log).
func BeSymmetric() types.GomegaMatcher {
	return &connMatcher{
		what: "be symmetric (each connection through one appliance, both ways)",
		check: func(ev *evidence) (bool, string) {
			type side struct{ orig, reply []string }
			conns := map[string]*side{}
			for a, recs := range ev.records {
				for _, r := range recs {
					k := connKey(r)
					if conns[k] == nil {
						conns[k] = &side{}
					}
					if r.Dir == "reply" {
						conns[k].reply = appendNew(conns[k].reply, a)
					} else {
						conns[k].orig = appendNew(conns[k].orig, a)
					}
				}
			}
			if len(conns) == 0 {
				return false, "no appliance recorded it"
			}
			var bad []string
			for _, k := range sortedKeys(conns) {
				s := conns[k]
				sort.Strings(s.orig)
				sort.Strings(s.reply)
				if len(s.orig) != 1 || len(s.reply) != 1 || s.orig[0] != s.reply[0] {
					bad = append(bad, fmt.Sprintf("%s went out through [%s] and came back through [%s]", k, strings.Join(s.orig, " "), strings.Join(s.reply, " ")))
				}
			}
			if len(bad) > 0 {
				return false, strings.Join(bad, "; ")
			}
			return true, ""
		},
	}
}

// connKey names a connection whichever way its record runs.
func connKey(r labapi.FlowRecord) string {
	a := fmt.Sprintf("%s:%d", r.Src, r.SrcPort)
	b := fmt.Sprintf("%s:%d", r.Dst, r.DstPort)
	if r.Dir == "reply" {
		a, b = b, a
	}
	return a + " -> " + b
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// LandOnOneTarget succeeds when every live GWLB flow of the connections is
// pinned to the same target (and there is one at least): what 2- and
// 3-tuple stickiness promise for all the connections between two hosts.
func LandOnOneTarget() types.GomegaMatcher {
	return &connMatcher{
		what: "land on one target",
		check: func(ev *evidence) (bool, string) {
			var targets []string
			for _, f := range ev.flows {
				targets = appendNew(targets, f.Target)
			}
			sort.Strings(targets)
			switch len(targets) {
			case 0:
				return false, "the GWLB has no live flow of it"
			case 1:
				return true, ""
			}
			return false, fmt.Sprintf("its flows are on %d targets: %s", len(targets), strings.Join(targets, ", "))
		},
	}
}
