package fabric

import (
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/gwlb"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

func gwlbStrays(h *harness) uint64 {
	var n uint64
	for _, lb := range h.f.rt.lbs {
		for _, node := range lb.Nodes() {
			n += node.Drops(gwlb.DropStray)
		}
	}
	return n
}

// TestGWLBNodeIgnoresStrays: the node's namespace gets the answers to its
// own health check and nothing else, whatever a reflecting appliance sends.
func TestGWLBNodeIgnoresStrays(t *testing.T) {
	h := newHarness(t, gwlbLab(false, true))
	// The node's health check leaves its namespace and reaches fw-1.
	h.send("gwlb-1-az1", tcpFlags(macRouterGWLB, macGWLBNode, "10.20.0.50", "10.20.1.11", 40000, 80, packet.TCPFlagSYN, 1460))
	checkIP(t, h.recv("fw-1"), macFW1, "10.20.0.50", "10.20.1.11")
	// fw-1 reflects it as Snort's gwlb DAQ does (addresses swapped, ports
	// and flags kept), then with ports swapped too: neither gets in.
	h.send("fw-1", tcpFlags(macRouterAppl, macFW1, "10.20.1.11", "10.20.0.50", 40000, 80, packet.TCPFlagSYN, 1460))
	h.none("gwlb-1-az1")
	h.send("fw-1", tcpFlags(macRouterAppl, macFW1, "10.20.1.11", "10.20.0.50", 80, 40000, packet.TCPFlagSYN, 1460))
	h.none("gwlb-1-az1")
	h.send("fw-1", udpFrame(macRouterAppl, macFW1, "10.20.1.11", "10.20.0.50", 5000, 53))
	h.none("gwlb-1-az1")
	h.send("fw-1", echoFrame(macRouterAppl, macFW1, "10.20.1.11", "10.20.0.50", false, 9))
	h.none("gwlb-1-az1")
	if got := gwlbStrays(h); got != 4 {
		t.Fatalf("%d strays counted, want 4; drops %v", got, nonZeroDrops(h.f))
	}
	if got := h.f.Counters().Drops[DropGWLB.String()]; got != 4 {
		t.Fatalf("fabric counted %d gwlb drops, want 4", got)
	}
	// The genuine answer gets in.
	h.send("fw-1", tcpFlags(macRouterAppl, macFW1, "10.20.1.11", "10.20.0.50", 80, 40000, packet.TCPFlagSYN|packet.TCPFlagACK, 1460))
	checkIP(t, h.recv("gwlb-1-az1"), macGWLBNode, "10.20.1.11", "10.20.0.50")
}

// TestGWLBNodeSameSubnet: a target in the GWLB node's own subnet reaches
// the node at L2. Its GENEVE still goes to the load balancer, its health
// check answers to the namespace, its strays nowhere.
func TestGWLBNodeSameSubnet(t *testing.T) {
	s := gwlbLab(false, true)
	sec := &s.VPCs[1]
	fw := sec.Subnets[1].ENIs[0]
	fw.IP = a("10.20.0.11")
	sec.Subnets[0].ENIs = append(sec.Subnets[0].ENIs, fw)
	sec.Subnets[1].ENIs = nil
	s.GWLBs[0].TargetGroup.Targets = []config.Target{{Name: "fw-1", IP: a("10.20.0.11"), AZ: "az1"}}
	h := newHarness(t, s)

	h.send("client", tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagSYN, 1460))
	f := h.recv("fw-1")
	back := reflect(t, f)
	packet.Ethernet(back).SetDst(packet.MAC(macGWLBNode)) // at L2, as the appliance's ARP says
	h.send("fw-1", back)
	h.none("gwlb-1-az1")
	checkIP(t, h.recv("web"), macWeb, "198.51.100.10", "10.0.1.10")

	h.send("gwlb-1-az1", tcpFlags(macFW1, macGWLBNode, "10.20.0.50", "10.20.0.11", 40001, 80, packet.TCPFlagSYN, 1460))
	checkIP(t, h.recv("fw-1"), macFW1, "10.20.0.50", "10.20.0.11")
	h.send("fw-1", tcpFlags(macGWLBNode, macFW1, "10.20.0.11", "10.20.0.50", 40001, 80, packet.TCPFlagSYN, 1460))
	h.none("gwlb-1-az1")
	h.send("fw-1", tcpFlags(macGWLBNode, macFW1, "10.20.0.11", "10.20.0.50", 80, 40001, packet.TCPFlagSYN|packet.TCPFlagACK, 1460))
	checkIP(t, h.recv("gwlb-1-az1"), macGWLBNode, "10.20.0.11", "10.20.0.50")
	if got := gwlbStrays(h); got != 1 {
		t.Fatalf("%d strays counted, want 1; drops %v", got, nonZeroDrops(h.f))
	}
}

// TestGWLBNodeHealthPathDoesNotAllocate: a health check leaving the node
// and its answer coming in add no allocation to the forwarding path.
func TestGWLBNodeHealthPathDoesNotAllocate(t *testing.T) {
	h := newHarness(t, gwlbLab(false, true))
	out := tcpFlags(macRouterGWLB, macGWLBNode, "10.20.0.50", "10.20.1.11", 40000, 80, packet.TCPFlagSYN, 1460)
	in := tcpFlags(macRouterAppl, macFW1, "10.20.1.11", "10.20.0.50", 80, 40000, packet.TCPFlagSYN|packet.TCPFlagACK, 1460)
	stray := tcpFlags(macRouterAppl, macFW1, "10.20.1.11", "10.20.0.50", 40000, 80, packet.TCPFlagSYN, 1460)
	buf := make([]byte, Headroom+len(out)+64)
	allocs := testing.AllocsPerRun(200, func() {
		copy(buf[Headroom:], out)
		h.w.receive("gwlb-1-az1", buf, Headroom, len(out))
		<-h.ports["fw-1"].out
		copy(buf[Headroom:], in)
		h.w.receive("fw-1", buf, Headroom, len(in))
		<-h.ports["gwlb-1-az1"].out
		copy(buf[Headroom:], stray)
		h.w.receive("fw-1", buf, Headroom, len(stray))
	})
	// The fake port copies each written frame (2 here); the fabric adds
	// nothing.
	if allocs > 2 {
		t.Fatalf("%v allocations per round", allocs)
	}
}
