package gwlb

import (
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/health"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// failoverLB has one zone with fw-1 and fw-2, a 60 s deregistration delay
// and the given failover action on both attributes (they must be equal).
func failoverLB(t *testing.T, action string) (*LB, *Node) {
	t.Helper()
	cfg := lbConfig("5-tuple", false, false)
	cfg.TargetGroup.OnUnhealthy, cfg.TargetGroup.OnDeregistration = action, action
	cfg.TargetGroup.DeregistrationDelay = 60
	lb, err := newStarted(cfg, map[string][]uint64{"az1": {ep1}}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	return lb, lb.Node("az1")
}

// flowOn opens flows until one lands on target name and returns its SYN.
func flowOn(t *testing.T, n *Node, name string) []byte {
	t.Helper()
	for port := uint16(30000); port < 30100; port++ {
		syn := tcp("198.51.100.10", "10.0.1.10", port, 80, packet.TCPFlagSYN)
		if forward(t, n, syn, epoch).Target.Name == name {
			return tcp("198.51.100.10", "10.0.1.10", port, 80, packet.TCPFlagACK)
		}
	}
	t.Fatalf("no flow landed on %s", name)
	return nil
}

func TestAllUnhealthyPinsAndDrops(t *testing.T) {
	_, n := failoverLB(t, "no_rebalance")
	n.SetHealth(0, health.Status{State: health.Unhealthy})
	n.SetHealth(1, health.Status{State: health.Unhealthy})
	syn := tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagSYN)
	if _, ok := n.Forward(syn, ep1, epoch); ok || n.Drops(DropTargetUnavailable) != 1 {
		t.Fatalf("a flow with no healthy target passed: %v", n.Metrics(epoch).Drops)
	}
	flows := n.Flows(epoch)
	if len(flows) != 1 {
		t.Fatalf("the flow is not pinned: %+v", flows)
	}
	pinned := flows[0].Target
	// The other target recovering does not help this flow...
	other := 0
	if pinned == "fw-1" {
		other = 1
	}
	n.SetHealth(other, health.Status{State: health.Healthy})
	ack := tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagACK)
	if _, ok := n.Forward(ack, ep1, epoch); ok {
		t.Fatal("a pinned flow moved to another target")
	}
	// ...its own target recovering does.
	n.SetHealth(1-other, health.Status{State: health.Healthy})
	if d := forward(t, n, ack, epoch); d.Target.Name != pinned {
		t.Fatalf("pinned flow went to %s", d.Target.Name)
	}
}

func TestUnhealthyFailover(t *testing.T) {
	for _, action := range []string{"no_rebalance", "rebalance"} {
		t.Run(action, func(t *testing.T) {
			_, n := failoverLB(t, action)
			ack := flowOn(t, n, "fw-1")
			before := forward(t, n, ack, epoch)
			n.SetHealth(0, health.Status{State: health.Unhealthy})
			after := forward(t, n, ack, epoch)
			want := "fw-1" // no_rebalance: existing flows stay (spec §4.4)
			if action == "rebalance" {
				want = "fw-2"
			}
			if after.Target.Name != want {
				t.Fatalf("flow on %s, want %s", after.Target.Name, want)
			}
			if after.Params.Options.Cookie != before.Params.Options.Cookie || after.Params.SrcPort != before.Params.SrcPort {
				t.Fatal("the flow changed cookie or outer port when it moved")
			}
			// Returns must come from the flow's target now.
			dec, err := returned(t, after, ack, nil)
			if _, ok := n.Return(dec, err, epoch); !ok {
				t.Fatalf("return from the flow's target refused: %v", n.Metrics(epoch).Drops)
			}
			// New flows avoid the unhealthy target either way.
			for i := range 30 {
				if d := forward(t, n, udp("198.51.100.10", "10.0.1.10", uint16(i), 53), epoch); d.Target.Name != "fw-2" {
					t.Fatalf("new flow to %s", d.Target.Name)
				}
			}
		})
	}
}

func TestDeregistration(t *testing.T) {
	for _, action := range []string{"no_rebalance", "rebalance"} {
		t.Run(action, func(t *testing.T) {
			lb, n := failoverLB(t, action)
			ack := flowOn(t, n, "fw-1")
			if err := lb.Deregister("fw-1", epoch); err != nil {
				t.Fatal(err)
			}
			if err := lb.Deregister("fw-9", epoch); err == nil {
				t.Fatal("deregistered a target that does not exist")
			}
			// Draining: no new flows, the old one stays.
			for i := range 30 {
				if d := forward(t, n, udp("198.51.100.10", "10.0.1.10", uint16(i), 53), epoch); d.Target.Name != "fw-2" {
					t.Fatalf("new flow to a draining target")
				}
			}
			if d := forward(t, n, ack, epoch.Add(30*time.Second)); d.Target.Name != "fw-1" {
				t.Fatalf("draining flow moved early to %s", d.Target.Name)
			}
			if th := n.Targets(epoch.Add(30 * time.Second)); th[0].State != "draining" || th[0].Reason != "Target.DeregistrationInProgress" {
				t.Fatalf("targets %+v", th)
			}
			// After the 60 s delay: unused; rebalance moves the flow.
			late := epoch.Add(61 * time.Second)
			want := "fw-1"
			if action == "rebalance" {
				want = "fw-2"
			}
			if d := forward(t, n, ack, late); d.Target.Name != want {
				t.Fatalf("after the delay the flow is on %s, want %s", d.Target.Name, want)
			}
			if th := n.Targets(late); th[0].State != "unused" {
				t.Fatalf("targets %+v", th)
			}
			// Registered again: initial until checks pass; no new flows.
			if _, err := lb.Register("fw-1"); err != nil {
				t.Fatal(err)
			}
			if th := n.Targets(late); th[0].State != "initial" || th[0].Reason != health.ReasonInitial {
				t.Fatalf("targets %+v", th)
			}
			for i := range 30 {
				if d := forward(t, n, udp("198.51.100.10", "10.0.1.10", uint16(100+i), 53), late); d.Target.Name != "fw-2" {
					t.Fatalf("new flow to an initial target")
				}
			}
			if m := n.Metrics(late); m.HealthyHostCount != 1 || m.UnHealthyHostCount != 0 {
				t.Fatalf("host counts %+v", m)
			}
		})
	}
}
