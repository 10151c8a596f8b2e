package gwlb

import (
	"net/netip"
	"sync"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/flow"
	"github.com/gwlb-lab/gwlb-lab/emulator/health"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// A target registered at run time starts initial, gets no new flow until it
// is healthy, then gets new flows; the flows of the other targets stay
// where they were (spec §4.2, §4.4).
func TestAddTargetAtRuntime(t *testing.T) {
	lb, n := failoverLB(t, "no_rebalance")
	var acks [][]byte
	var before []string
	for port := uint16(31000); port < 31040; port++ {
		syn := tcp("198.51.100.10", "10.0.1.10", port, 80, packet.TCPFlagSYN)
		before = append(before, forward(t, n, syn, epoch).Target.Name)
		acks = append(acks, tcp("198.51.100.10", "10.0.1.10", port, 80, packet.TCPFlagACK))
	}
	nt, added, err := lb.Add(config.Target{Name: "fw-9", IP: a("10.20.1.19"), AZ: "az1"})
	if err != nil || !added {
		t.Fatalf("Add: added %v, %v", added, err)
	}
	if got := n.State(nt.Index()); got != health.Initial {
		t.Fatalf("new target starts %v, want initial", got)
	}
	if th := n.Targets(epoch); th[len(th)-1].Target != "fw-9" || th[len(th)-1].State != "initial" || th[len(th)-1].Reason != health.ReasonInitial {
		t.Fatalf("target listing: %+v", th[len(th)-1])
	}
	if other := lb.Node("az2"); other.State(nt.Index()) != health.Initial || len(other.Candidates()) != 1 {
		t.Fatalf("az2 node, no cross-zone: candidates %d", len(other.Candidates()))
	}
	for port := uint16(32000); port < 32100; port++ {
		if d := forward(t, n, tcp("198.51.100.10", "10.0.1.10", port, 80, packet.TCPFlagSYN), epoch); d.Target == nt {
			t.Fatal("a new flow went to a target still in its initial checks")
		}
	}
	n.SetHealth(nt.Index(), health.Status{State: health.Healthy})
	got := false
	for port := uint16(33000); port < 33100 && !got; port++ {
		got = forward(t, n, tcp("198.51.100.10", "10.0.1.10", port, 80, packet.TCPFlagSYN), epoch).Target == nt
	}
	if !got {
		t.Fatal("no new flow reached the healthy new target")
	}
	for i, ack := range acks {
		if d := forward(t, n, ack, epoch); d.Target.Name != before[i] {
			t.Fatalf("flow %d moved from %s to %s", i, before[i], d.Target.Name)
		}
	}
	// Adding it again is a registration of the target it has.
	if again, added, err := lb.Add(config.Target{Name: "fw-9", IP: a("10.20.1.19"), AZ: "az1"}); err != nil || added || again != nt {
		t.Fatalf("second Add: %v %v %v", again, added, err)
	}
	if _, _, err := lb.Add(config.Target{Name: "fw-9", IP: a("10.20.1.99"), AZ: "az1"}); err == nil {
		t.Fatal("a target name with another address was accepted")
	}
	// Deregistered, it drains like a target of the file.
	if err := lb.Deregister("fw-9", epoch); err != nil {
		t.Fatal(err)
	}
	if !lb.Draining(nt, epoch) {
		t.Fatal("deregistered target is not draining")
	}
}

// A target in an AZ the load balancer does not enable is listed unused.
func TestAddTargetNotInUse(t *testing.T) {
	lb, n := failoverLB(t, "no_rebalance")
	if _, _, err := lb.Add(config.Target{Name: "fw-z", IP: a("10.20.30.5"), AZ: "az9"}); err != nil {
		t.Fatal(err)
	}
	th := n.Targets(epoch)
	if last := th[len(th)-1]; last.Target != "fw-z" || last.Reason != "Target.NotInUse" {
		t.Fatalf("got %+v", last)
	}
}

// Adding targets while packets are forwarded is safe (run with -race).
func TestAddTargetConcurrent(t *testing.T) {
	lb, n := failoverLB(t, "no_rebalance")
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for port := uint16(34000); port < 36000; port++ {
			n.Forward(tcp("198.51.100.10", "10.0.1.10", port, 80, packet.TCPFlagSYN), ep1, epoch)
		}
	}()
	go func() {
		defer wg.Done()
		buf := make([]flow.Entry, flow.WalkChunk)
		for range 50 {
			n.WalkFlows(epoch, &FlowFilter{Target: "fw-1"}, buf, func(FlowRef) bool { return true })
			n.Targets(epoch)
		}
	}()
	for i := range 50 {
		ip := a("10.20.2.0").As4()
		ip[3] = byte(i + 1)
		if _, _, err := lb.Add(config.Target{IP: netip.AddrFrom4(ip), AZ: "az1"}); err != nil {
			t.Error(err)
		}
	}
	wg.Wait()
	if got := len(lb.Targets()); got != 53 {
		t.Fatalf("%d targets, want 53", got)
	}
}
