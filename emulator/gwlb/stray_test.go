package gwlb

import (
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// TestNodeAdmitsOnlyAnswersToItsOwnChecks walks a health check's segments
// and what a reflecting appliance makes of them.
func TestNodeAdmitsOnlyAnswersToItsOwnChecks(t *testing.T) {
	const (
		syn    = packet.TCPFlagSYN
		synack = packet.TCPFlagSYN | packet.TCPFlagACK
		ack    = packet.TCPFlagACK
		rst    = packet.TCPFlagRST | packet.TCPFlagACK
	)
	n := newLB(t, "5-tuple", false, false).Node("az1")
	now := epoch.Add(time.Second)
	// Nothing was opened yet: an answer-shaped segment is a stray.
	if n.Admit(tcp("10.20.1.11", "10.20.0.50", 80, 40000, synack), now) {
		t.Fatal("SYN-ACK for a connection the node never opened was admitted")
	}
	n.Sent(tcp("10.20.0.50", "10.20.1.11", 40000, 80, syn), now)
	tests := []struct {
		name  string
		pkt   []byte
		admit bool
	}{
		{"the target's SYN-ACK", tcp("10.20.1.11", "10.20.0.50", 80, 40000, synack), true},
		{"the target's ACK", tcp("10.20.1.11", "10.20.0.50", 80, 40000, ack), true},
		{"the target's RST", tcp("10.20.1.11", "10.20.0.50", 80, 40000, rst), true},
		// Snort's gwlb DAQ swaps addresses and keeps ports.
		{"reflected SYN, ports kept", tcp("10.20.1.11", "10.20.0.50", 40000, 80, syn), false},
		{"reflected ACK, ports kept", tcp("10.20.1.11", "10.20.0.50", 40000, 80, ack), false},
		// Swapping ports too hits the node's own socket: a simultaneous open.
		{"reflected SYN, ports swapped too", tcp("10.20.1.11", "10.20.0.50", 80, 40000, syn), false},
		{"another target, same ports", tcp("10.20.1.12", "10.20.0.50", 80, 40000, synack), false},
		{"same target, another port", tcp("10.20.1.11", "10.20.0.50", 81, 40000, synack), false},
		{"UDP", udp("10.20.1.11", "10.20.0.50", 80, 40000), false},
		{"ICMP", packet.AppendICMPEcho(nil, packet.IPHeader{Src: a("10.20.1.11"), Dst: a("10.20.0.50")}, true, 1, 1, nil), false},
		{"for another address", tcp("10.20.1.11", "10.20.0.51", 80, 40000, synack), false},
		{"truncated", tcp("10.20.1.11", "10.20.0.50", 80, 40000, synack)[:30], false},
	}
	var strays uint64
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := n.Admit(tc.pkt, now); got != tc.admit {
				t.Fatalf("Admit = %v, want %v", got, tc.admit)
			}
		})
		if !tc.admit {
			strays++
		}
	}
	if got := n.Drops(DropStray); got != strays+1 {
		t.Fatalf("%d strays counted, want %d", got, strays+1)
	}
	if got := n.Metrics(now).Drops["stray_to_node"]; got != strays+1 {
		t.Fatalf("metrics show %d strays, want %d", got, strays+1)
	}

	// Only a SYN opens: the node's ACK on an unknown connection does not.
	n.Sent(tcp("10.20.0.50", "10.20.1.12", 40001, 80, ack), now)
	if n.Admit(tcp("10.20.1.12", "10.20.0.50", 80, 40001, ack), now) {
		t.Fatal("a connection the node did not open with a SYN was admitted")
	}
	// A packet from another address is not the node's (not its checks).
	n.Sent(tcp("10.20.0.99", "10.20.1.12", 40002, 80, syn), now)
	if n.Admit(tcp("10.20.1.12", "10.20.0.50", 80, 40002, synack), now) {
		t.Fatal("a SYN from another source opened a connection")
	}

	// The node's own segments keep a connection open; idle, it is gone.
	later := now.Add(ownConnsIdle - time.Second)
	n.Sent(tcp("10.20.0.50", "10.20.1.11", 40000, 80, ack), later)
	if !n.Admit(tcp("10.20.1.11", "10.20.0.50", 80, 40000, ack), later.Add(ownConnsIdle-time.Second)) {
		t.Fatal("a connection the node kept using was forgotten")
	}
	if n.Admit(tcp("10.20.1.11", "10.20.0.50", 80, 40000, ack), later.Add(ownConnsIdle)) {
		t.Fatal("an idle connection was still admitted")
	}
}

// TestNodeOwnConnectionsAreBounded fills the record past its bound: it stays
// bounded and the newest connection is always admitted.
func TestNodeOwnConnectionsAreBounded(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	now := epoch.Add(time.Second)
	for i := range ownConnsMax + 100 {
		port := uint16(1024 + i)
		n.Sent(tcp("10.20.0.50", "10.20.1.11", port, 80, packet.TCPFlagSYN), now)
		if !n.Admit(tcp("10.20.1.11", "10.20.0.50", 80, port, packet.TCPFlagSYN|packet.TCPFlagACK), now) {
			t.Fatalf("connection %d not admitted", i)
		}
	}
	if got := len(n.own.m); got > ownConnsMax {
		t.Fatalf("%d connections recorded, bound %d", got, ownConnsMax)
	}
	// Idle entries make room before live ones are sacrificed.
	n2 := newLB(t, "5-tuple", false, false).Node("az1")
	for i := range ownConnsMax {
		n2.Sent(tcp("10.20.0.50", "10.20.1.11", uint16(1024+i), 80, packet.TCPFlagSYN), now)
	}
	fresh := now.Add(ownConnsIdle)
	n2.Sent(tcp("10.20.0.50", "10.20.1.12", 1024, 80, packet.TCPFlagSYN), fresh)
	if got := len(n2.own.m); got != 1 {
		t.Fatalf("%d connections left after the idle ones went, want 1", got)
	}
}

func TestNodeAdmitDoesNotAllocate(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	now := epoch.Add(time.Second)
	out := tcp("10.20.0.50", "10.20.1.11", 40000, 80, packet.TCPFlagSYN)
	in := tcp("10.20.1.11", "10.20.0.50", 80, 40000, packet.TCPFlagSYN|packet.TCPFlagACK)
	stray := tcp("10.20.1.11", "10.20.0.50", 40000, 80, packet.TCPFlagSYN)
	allocs := testing.AllocsPerRun(200, func() {
		n.Sent(out, now)
		n.Admit(in, now)
		n.Admit(stray, now)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}
