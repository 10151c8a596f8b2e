package matchers

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/gwlblab"
	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
	"github.com/onsi/gomega/types"
)

// fakeLab answers from its fields; each Counters call returns the next of
// counters (the last one again when they run out).
type fakeLab struct {
	trafficErr error
	traces     []api.Trace
	counters   []api.Counters
	calls      int
	flows      []api.Flow
	logs       map[string][]labapi.FlowRecord
	targets    []api.TargetHealth
	traced     []string // hosts asked for
	sent       []string
}

func (f *fakeLab) NodeInfo(_ context.Context, node string) (labapi.NodeStatus, error) {
	if node == "client" {
		return labapi.NodeStatus{Name: node, Address: "198.51.100.10/24"}, nil
	}
	return labapi.NodeStatus{}, gwlblab.ErrNotFound
}
func (f *fakeLab) TCP(_ context.Context, node, addr string, port int) error {
	f.sent = append(f.sent, "tcp")
	return f.trafficErr
}
func (f *fakeLab) UDP(_ context.Context, node, addr string, port int, msg string) (string, error) {
	f.sent = append(f.sent, "udp")
	return "", f.trafficErr
}
func (f *fakeLab) Ping(_ context.Context, node, addr string, extra ...string) error {
	f.sent = append(f.sent, "icmp")
	return f.trafficErr
}
func (f *fakeLab) Trace(_ context.Context, tf gwlblab.TraceFilter, fn func() error) ([]api.Trace, error) {
	f.traced = tf.Hosts
	return f.traces, fn()
}
func (f *fakeLab) Counters(context.Context) (api.Counters, error) {
	c := f.counters[min(f.calls, len(f.counters)-1)]
	f.calls++
	return c, nil
}
func (f *fakeLab) Flows(context.Context, api.FlowFilter) ([]api.Flow, error) { return f.flows, nil }
func (f *fakeLab) FlowLog(_ context.Context, node string) ([]labapi.FlowRecord, error) {
	return f.logs[node], nil
}
func (f *fakeLab) Targets(context.Context) ([]api.TargetHealth, error) { return f.targets, nil }

func counters(noRoute, noTarget uint64) api.Counters {
	return api.Counters{Drops: map[string]uint64{"no_route": noRoute, "blackhole": 0},
		GWLB: []api.GWLBMetrics{{Node: "gwlb-1-az1", Drops: map[string]uint64{"no_target": noTarget}}}}
}

// match runs m on actual and returns whether it matched and the failure
// message (for a match, the negated one).
func match(t *testing.T, m types.GomegaMatcher, actual any) (bool, string) {
	t.Helper()
	ok, err := m.Match(actual)
	if err != nil {
		t.Fatalf("Match: %v", err)
	}
	if ok {
		return true, m.NegatedFailureMessage(actual)
	}
	return false, m.FailureMessage(actual)
}

func contains(t *testing.T, msg string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("message lacks %q:\n%s", p, msg)
		}
	}
}

var dropped = api.Trace{From: "client", Packet: "tcp 198.51.100.10:40000 > 203.0.113.10:81 SYN", Hops: []string{"igw-consumer: edge route 10.0.1.0/24 -> gwlbe-1", "gwlbe-1: endpoint not accepted"}, Result: "dropped: endpoint_not_accepted"}
var delivered = api.Trace{From: "client", Packet: "tcp 198.51.100.10:40001 > 203.0.113.10:80 SYN", Hops: []string{"igw-consumer: 203.0.113.10 -> 10.0.1.10"}, Result: "delivered to web"}

func TestReachFailureShowsTraceAndDrops(t *testing.T) {
	l := &fakeLab{trafficErr: errors.New("tcp connect to 203.0.113.10:81 from client: exit status 1: i/o timeout"),
		traces: []api.Trace{delivered, dropped}, counters: []api.Counters{counters(0, 0), counters(0, 2)}}
	ok, msg := match(t, Reach(), TCP(l, "client", "203.0.113.10", 81))
	if ok {
		t.Fatal("a failed attempt reached")
	}
	contains(t, msg, "Expected client -> 203.0.113.10 tcp/81 to reach its destination",
		"the attempt: tcp connect to 203.0.113.10:81 from client: exit status 1: i/o timeout",
		"traces of its packets (2):", "    gwlbe-1: endpoint not accepted\n    => dropped: endpoint_not_accepted",
		"drop counters that moved meanwhile: gwlb-1-az1: no_target +2")
	if strings.Index(msg, "dropped: endpoint_not_accepted") > strings.Index(msg, "delivered to web") {
		t.Errorf("the dropped packet is not shown first:\n%s", msg)
	}
	if strings.Join(l.traced, ",") != "203.0.113.10,198.51.100.10" || strings.Join(l.sent, ",") != "tcp" {
		t.Errorf("traced %v, sent %v", l.traced, l.sent)
	}
}

func TestReachAndBeBlocked(t *testing.T) {
	l := &fakeLab{traces: []api.Trace{delivered}, counters: []api.Counters{counters(0, 0)}}
	if ok, _ := match(t, Reach(), UDP(l, "client", "203.0.113.10", 80)); !ok {
		t.Fatal("an answered probe did not reach")
	}
	ok, msg := match(t, BeBlocked(), ICMP(l, "client", "203.0.113.10"))
	if ok {
		t.Fatal("an answered ping was blocked")
	}
	contains(t, msg, "Expected client -> 203.0.113.10 (icmp) to be blocked", "the attempt got through", "=> delivered to web", "moved meanwhile: none")
	l.trafficErr = errors.New("no answer")
	if ok, _ := match(t, BeBlocked(), ICMP(l, "client", "203.0.113.10")); !ok {
		t.Fatal("an unanswered ping was not blocked")
	}
	if _, err := Reach().Match("client"); err == nil {
		t.Fatal("Reach took a string")
	}
	if _, err := Reach().Match(TCP(l, "nope", "203.0.113.10", 80)); !errors.Is(err, gwlblab.ErrNotFound) {
		t.Fatalf("an unknown node: %v", err)
	}
}

func rec(dir, src string, sport uint16, dst string, dport uint16) labapi.FlowRecord {
	return labapi.FlowRecord{Event: "flow", Dir: dir, Src: src, SrcPort: sport, Dst: dst, DstPort: dport, Proto: 6, Cookie: "c"}
}

func flowLab() *fakeLab {
	return &fakeLab{
		targets: []api.TargetHealth{{Node: "n", Target: "fw-1"}, {Node: "n", Target: "fw-2"}},
		logs: map[string][]labapi.FlowRecord{
			"fw-1": {rec("original", "198.51.100.10", 40000, "10.0.1.10", 80), rec("reply", "10.0.1.10", 80, "198.51.100.10", 40000),
				rec("original", "198.51.100.10", 40001, "10.0.1.10", 80)},
			"fw-2": {rec("reply", "10.0.1.10", 80, "198.51.100.10", 40001), rec("original", "10.9.9.9", 1, "10.0.1.10", 80)},
		},
		flows: []api.Flow{{Node: "gwlb-1-az1", Src: "198.51.100.10:40000", Dst: "10.0.1.10:80", Target: "fw-1"},
			{Node: "gwlb-1-az1", Src: "198.51.100.10:40001", Dst: "10.0.1.10:80", Target: "fw-2"},
			{Node: "gwlb-1-az1", Src: "10.9.9.9:1", Dst: "10.0.1.10:80", Target: "fw-2"}},
	}
}

func TestTraverse(t *testing.T) {
	l := flowLab()
	c := Conn(l, "198.51.100.10", "10.0.1.10", "tcp")
	if ok, _ := match(t, Traverse("fw-1"), c); !ok {
		t.Fatal("fw-1 saw both directions")
	}
	ok, msg := match(t, Traverse("fw-2"), c)
	if ok {
		t.Fatal("fw-2 saw no original packet")
	}
	contains(t, msg, "Expected tcp traffic between 198.51.100.10 and 10.0.1.10 to traverse fw-2 (original, reply), but fw-2 recorded no original packet of it",
		"  fw-2: reply 10.0.1.10:80 -> 198.51.100.10:40001", "  fw-1: original 198.51.100.10:40000 -> 10.0.1.10:80",
		"gwlb-1-az1: 198.51.100.10:40001 -> 10.0.1.10:80 on target fw-2")
	if strings.Contains(msg, "10.9.9.9") {
		t.Errorf("another pair's records shown:\n%s", msg)
	}
	if ok, _ := match(t, Traverse("fw-2", "reply"), c); !ok {
		t.Fatal("fw-2 saw the reply")
	}
	_, msg = match(t, Traverse("fw-3"), c)
	contains(t, msg, "fw-3 is not a target of any GWLB")
}

func TestBeSymmetricAndLandOnOneTarget(t *testing.T) {
	l := flowLab()
	c := Conn(l, "10.0.1.10", "198.51.100.10", "tcp")
	ok, msg := match(t, BeSymmetric(), c)
	if ok {
		t.Fatal("a connection out through fw-1 and back through fw-2 is symmetric")
	}
	contains(t, msg, "198.51.100.10:40001 -> 10.0.1.10:80 went out through [fw-1] and came back through [fw-2]")
	if strings.Contains(msg, "40000 -> 10.0.1.10:80 went out") {
		t.Errorf("the symmetric connection is blamed:\n%s", msg)
	}
	ok, msg = match(t, LandOnOneTarget(), c)
	if ok {
		t.Fatal("flows on two targets land on one")
	}
	contains(t, msg, "its flows are on 2 targets: fw-1, fw-2")

	l.logs["fw-2"] = nil
	l.logs["fw-1"] = append(l.logs["fw-1"], rec("reply", "10.0.1.10", 80, "198.51.100.10", 40001))
	l.flows = l.flows[:1]
	if ok, msg := match(t, BeSymmetric(), c); !ok {
		t.Fatalf("both connections on fw-1 both ways:\n%s", msg)
	}
	if ok, msg := match(t, LandOnOneTarget(), c); !ok {
		t.Fatalf("one flow on one target:\n%s", msg)
	}
	l.flows = nil
	_, msg = match(t, LandOnOneTarget(), c)
	contains(t, msg, "the GWLB has no live flow of it")
	if _, err := BeSymmetric().Match(Conn(l, "a", "b", "gre")); err == nil {
		t.Fatal("a bad protocol accepted")
	}
}

func TestDropCounter(t *testing.T) {
	l := &fakeLab{counters: []api.Counters{counters(1, 0), counters(3, 0)}}
	c := DropCounter(l, "no_route")
	if ok, _ := match(t, HaveRisen(), c); !ok {
		t.Fatal("1 -> 3 did not rise")
	}
	ok, msg := match(t, StayZero(), c)
	if ok {
		t.Fatal("a counter at 1 stayed zero")
	}
	contains(t, msg, "Expected drop counter no_route to stay zero: it was 1, it is 3", "moved meanwhile: no_route +2")

	l = &fakeLab{counters: []api.Counters{counters(0, 0)}}
	g := DropCounter(l, "no_target")
	if ok, _ := match(t, StayZero(), g); !ok {
		t.Fatal("a GWLB counter at 0 did not stay zero")
	}
	ok, msg = match(t, HaveRisen(), g)
	if ok {
		t.Fatal("0 -> 0 rose")
	}
	contains(t, msg, "Expected drop counter no_target to have risen: it was 0, it is 0", "moved meanwhile: none")
	if _, err := HaveRisen().Match(DropCounter(l, "no_such_counter")); err == nil || !strings.Contains(err.Error(), "blackhole, no_route") {
		t.Fatalf("an unknown counter: %v", err)
	}
}

func TestBeInState(t *testing.T) {
	l := &fakeLab{targets: []api.TargetHealth{
		{Node: "gwlb-1-az1", Target: "fw-1", IP: "10.20.1.11", State: "healthy"},
		{Node: "gwlb-1-az2", Target: "fw-1", IP: "10.20.1.11", State: "unhealthy", Reason: "Target.FailedHealthChecks", LastError: "connection refused"},
		{Node: "gwlb-1-az3", Target: "fw-1", IP: "10.20.1.11", State: "unused", Reason: "Target.NotInUse"},
	}}
	ok, msg := match(t, BeInState("healthy"), Target(l, "fw-1"))
	if ok {
		t.Fatal("unhealthy on one node is healthy")
	}
	contains(t, msg, "Expected target fw-1 to be healthy on every GWLB node that checks it",
		"gwlb-1-az2: unhealthy (Target.FailedHealthChecks), last probe error: connection refused")
	if strings.Contains(msg, "az3") {
		t.Errorf("a node that does not use the target shown:\n%s", msg)
	}
	l.targets[1].State = "healthy"
	if ok, _ := match(t, BeInState("healthy"), Target(l, "10.20.1.11")); !ok {
		t.Fatal("healthy everywhere, by address")
	}
	if _, err := BeInState("healthy").Match(Target(l, "fw-9")); err == nil {
		t.Fatal("an unknown target matched")
	}
}
