package gwlb

import (
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

func TestForgetHostRemovesItsFlowsOnly(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	now := epoch.Add(time.Second)
	forward(t, n, tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagSYN), now) // to the host
	forward(t, n, udp("10.0.1.10", "198.51.100.10", 5000, 53), now)                     // from it
	kept := forward(t, n, tcp("198.51.100.10", "10.0.1.11", 40000, 80, packet.TCPFlagSYN), now)
	if got := n.ForgetHost(ep1+1, a("10.0.1.10")); got != 0 {
		t.Fatalf("an endpoint the node has no table for forgot %d flows", got)
	}
	if got := n.ForgetHost(ep1, a("10.0.1.10")); got != 2 {
		t.Fatalf("forgot %d flows, want the host's 2", got)
	}
	if m := n.Metrics(now); m.ActiveFlowCount != 1 {
		t.Fatalf("%d flows left, want the other host's", m.ActiveFlowCount)
	}
	// The other host's flow goes on as it was.
	again := forward(t, n, tcp("198.51.100.10", "10.0.1.11", 40000, 80, packet.TCPFlagACK), now)
	if again.Target != kept.Target || again.Params.Options.Cookie != kept.Params.Options.Cookie {
		t.Fatal("the other host's flow changed")
	}
	// The forgotten host's established TCP flow is gone: a bare ACK starts
	// nothing (only a SYN does).
	if _, ok := n.Forward(tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagACK), ep1, now); ok {
		t.Fatal("the forgotten flow still forwards")
	}
}
