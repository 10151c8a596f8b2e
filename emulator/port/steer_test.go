package port

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
)

// udp6 returns an Ethernet frame of an IPv6 UDP datagram.
func udp6(src, dst netip.Addr, sport, dport uint16) []byte {
	f := make([]byte, 14+40+8)
	binary.BigEndian.PutUint16(f[12:], 0x86dd)
	ip := f[14:]
	ip[0], ip[6] = 0x60, 17
	s, d := src.As16(), dst.As16()
	copy(ip[8:24], s[:])
	copy(ip[24:40], d[:])
	binary.BigEndian.PutUint16(ip[40:], sport)
	binary.BigEndian.PutUint16(ip[42:], dport)
	return f
}

func udp4(src, dst netip.Addr, sport, dport uint16) []byte {
	u := make([]byte, 8)
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	return ethernet(net.HardwareAddr{2, 0, 0, 0, 0, 1}, net.HardwareAddr{2, 0, 0, 0, 0, 2}, 0x0800, ipv4(17, src, dst, u))
}

// Both directions of a flow hash alike, so a flow's frames toward the node
// are written on the queue its frames from the node are read on; flows
// differing in a port mostly hash apart.
func TestFlowHashIsSymmetric(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	distinct := map[uint32]bool{}
	for i := range 1000 {
		var a4, b4 [4]byte
		var a6, b6 [16]byte
		binary.BigEndian.PutUint32(a4[:], r.Uint32())
		binary.BigEndian.PutUint32(b4[:], r.Uint32())
		binary.BigEndian.PutUint64(a6[8:], r.Uint64())
		binary.BigEndian.PutUint64(b6[8:], r.Uint64())
		sp, dp := uint16(r.Uint32()), uint16(r.Uint32())
		for _, fr := range [][2][]byte{
			{udp4(netip.AddrFrom4(a4), netip.AddrFrom4(b4), sp, dp), udp4(netip.AddrFrom4(b4), netip.AddrFrom4(a4), dp, sp)},
			{udp6(netip.AddrFrom16(a6), netip.AddrFrom16(b6), sp, dp), udp6(netip.AddrFrom16(b6), netip.AddrFrom16(a6), dp, sp)},
		} {
			h1, ok1 := flowHash(fr[0])
			h2, ok2 := flowHash(fr[1])
			if !ok1 || !ok2 || h1 != h2 {
				t.Fatalf("round %d: %x %v one way, %x %v the other", i, h1, ok1, h2, ok2)
			}
		}
		h, _ := flowHash(udp4(netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), uint16(i), 53))
		distinct[h] = true
	}
	if len(distinct) < 990 {
		t.Fatalf("1000 flows differing in a port gave %d hashes", len(distinct))
	}
	if _, ok := flowHash([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 0, 1}); ok {
		t.Fatal("an ARP frame has a flow hash")
	}
}

func TestSteeringWritesAFlowOnItsReadQueue(t *testing.T) {
	var s steering
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.7")
	for p := range uint16(200) {
		s.note(udp4(a, b, 1000+p, 80), 1)
	}
	for p := range uint16(200) {
		if q := s.queue(udp4(b, a, 80, 1000+p), 2); q != 1 {
			t.Fatalf("flow from port %d read on queue 1, answer written on %d", 1000+p, q)
		}
	}
	fr := udp4(a, b, 1, 2)
	if allocs := testing.AllocsPerRun(100, func() { s.note(fr, s.queue(fr, 2)) }); allocs != 0 {
		t.Fatalf("%v allocations per frame", allocs)
	}
}
