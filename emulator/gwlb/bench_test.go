package gwlb

import (
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// BenchmarkForwardWhole is one 3000-byte UDP datagram of a live flow, whole:
// the baseline for BenchmarkForwardFragments.
func BenchmarkForwardWhole(b *testing.B) {
	n := benchNode(b)
	now := epoch.Add(time.Second)
	whole, _ := datagram(packet.ProtoUDP, "198.51.100.10", "10.0.1.10", 40000, 80, 5)
	n.Forward(whole, ep1, now)
	b.ReportAllocs()
	for b.Loop() {
		n.Forward(whole, ep1, now)
	}
}

// BenchmarkForwardFragments is the same datagram as three fragments, in
// order: the price of fragment tracking per datagram.
func BenchmarkForwardFragments(b *testing.B) {
	n := benchNode(b)
	now := epoch.Add(time.Second)
	_, frags := datagram(packet.ProtoUDP, "198.51.100.10", "10.0.1.10", 40000, 80, 5)
	for _, f := range frags {
		n.Forward(f, ep1, now)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, f := range frags {
			n.Forward(f, ep1, now)
		}
	}
}

// BenchmarkAdmit is a health check's answer let into the node's namespace,
// and a reflected copy of the check kept out.
func BenchmarkAdmit(b *testing.B) {
	n := benchNode(b)
	now := epoch.Add(time.Second)
	n.Sent(tcp("10.20.0.50", "10.20.1.11", 40000, 80, packet.TCPFlagSYN), now)
	in := tcp("10.20.1.11", "10.20.0.50", 80, 40000, packet.TCPFlagSYN|packet.TCPFlagACK)
	stray := tcp("10.20.1.11", "10.20.0.50", 40000, 80, packet.TCPFlagSYN)
	b.ReportAllocs()
	for b.Loop() {
		n.Admit(in, now)
		n.Admit(stray, now)
	}
}

func benchNode(b *testing.B) *Node {
	lb, err := newStarted(lbConfig("5-tuple", false, false), map[string][]uint64{"az1": {ep1}}, epoch)
	if err != nil {
		b.Fatal(err)
	}
	return lb.Node("az1")
}
