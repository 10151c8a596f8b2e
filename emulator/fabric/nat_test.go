package fabric

import (
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"net/netip"
	"testing"
	"time"
)

func TestNATTableAllocatesAndReverses(t *testing.T) {
	tb := newNATTable(natTimeouts{tcp: 350 * time.Second, other: 120 * time.Second})
	now := time.Unix(0, 0)
	web := netip.MustParseAddr("10.0.3.10")
	remote := netip.MustParseAddr("198.51.100.10")
	k1 := natKey{proto: packet.ProtoTCP, src: web, dst: remote, srcPort: 40000, dstPort: 80}
	k2 := natKey{proto: packet.ProtoTCP, src: web, dst: remote, srcPort: 40001, dstPort: 80}
	p1, ok := tb.outbound(k1, now)
	if !ok {
		t.Fatal("no port")
	}
	p2, _ := tb.outbound(k2, now)
	if p1 == p2 {
		t.Fatalf("two connections share NAT port %d", p1)
	}
	if again, _ := tb.outbound(k1, now); again != p1 {
		t.Fatalf("same connection got port %d then %d", p1, again)
	}
	src, sport, ok := tb.inbound(packet.ProtoTCP, remote, 80, p1, now.Add(time.Second))
	if !ok || src != web || sport != 40000 {
		t.Fatalf("inbound = %v %d %v", src, sport, ok)
	}
	// A reply from another remote address does not match.
	if _, _, ok := tb.inbound(packet.ProtoTCP, netip.MustParseAddr("198.51.100.11"), 80, p1, now); ok {
		t.Fatal("reply from a stranger was let in")
	}
	// UDP's 120 s idle timeout ends an entry; TCP's 350 s does not yet.
	ku := natKey{proto: packet.ProtoUDP, src: web, dst: remote, srcPort: 5000, dstPort: 53}
	pu, _ := tb.outbound(ku, now)
	later := now.Add(200 * time.Second)
	if _, _, ok := tb.inbound(packet.ProtoUDP, remote, 53, pu, later); ok {
		t.Fatal("UDP entry outlived 120 s")
	}
	if _, _, ok := tb.inbound(packet.ProtoTCP, remote, 80, p2, later); !ok {
		t.Fatal("TCP entry died before 350 s")
	}
	if n := tb.expire(now.Add(600 * time.Second)); n != 0 {
		t.Fatalf("%d entries left after every timeout", n)
	}
}

func TestNATTableExhaustion(t *testing.T) {
	tb := newNATTable(defaultNATTimeouts)
	now := time.Unix(0, 0)
	remote := netip.MustParseAddr("198.51.100.10")
	src := netip.MustParseAddr("10.0.3.10")
	n := natPortMax - natPortMin + 1
	seen := map[uint16]bool{}
	for i := range n {
		p, ok := tb.outbound(natKey{proto: packet.ProtoUDP, src: src, dst: remote, srcPort: uint16(i), dstPort: uint16(i >> 16)}, now)
		if !ok || seen[p] || p < natPortMin {
			t.Fatalf("allocation %d: port %d ok=%v dup=%v", i, p, ok, seen[p])
		}
		seen[p] = true
	}
	if _, ok := tb.outbound(natKey{proto: packet.ProtoUDP, src: src, dst: remote, srcPort: 1, dstPort: 9}, now); ok {
		t.Fatal("allocated past exhaustion")
	}
	// Once entries idle out, ports are reused.
	if _, ok := tb.outbound(natKey{proto: packet.ProtoUDP, src: src, dst: remote, srcPort: 1, dstPort: 9}, now.Add(121*time.Second)); !ok {
		t.Fatal("idle ports were not reclaimed")
	}
}
