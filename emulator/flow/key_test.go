package flow

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

func fkey(src string, sport uint16, dst string, dport uint16, proto uint8) packet.FlowKey {
	return packet.FlowKey{
		Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
		SrcPort: sport, DstPort: dport, Proto: proto,
	}
}

func reverse(k packet.FlowKey) packet.FlowKey {
	return packet.FlowKey{Src: k.Dst, Dst: k.Src, SrcPort: k.DstPort, DstPort: k.SrcPort, Proto: k.Proto}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name    string
		in      packet.FlowKey
		mode    Mode
		want    string
		swapped bool
	}{
		{"tcp 5-tuple", fkey("10.0.0.2", 40000, "10.0.0.1", 443, 6), FiveTuple, "10.0.0.1:443<->10.0.0.2:40000/6", true},
		{"udp 5-tuple in order", fkey("10.0.0.1", 53, "10.0.0.2", 5353, 17), FiveTuple, "10.0.0.1:53<->10.0.0.2:5353/17", false},
		{"icmp 5-tuple drops ports", fkey("10.0.0.2", 8, "10.0.0.1", 0, 1), FiveTuple, "10.0.0.1:0<->10.0.0.2:0/1", true},
		{"esp 5-tuple drops ports", fkey("10.0.0.1", 1, "10.0.0.2", 2, 50), FiveTuple, "10.0.0.1:0<->10.0.0.2:0/50", false},
		{"3-tuple drops ports", fkey("10.0.0.2", 40000, "10.0.0.1", 443, 6), ThreeTuple, "10.0.0.1:0<->10.0.0.2:0/6", true},
		{"2-tuple drops proto", fkey("10.0.0.2", 40000, "10.0.0.1", 443, 17), TwoTuple, "10.0.0.1:0<->10.0.0.2:0/0", true},
		{"same address, ports order", fkey("10.0.0.1", 2000, "10.0.0.1", 1000, 6), FiveTuple, "10.0.0.1:1000<->10.0.0.1:2000/6", true},
		{"same endpoint", fkey("10.0.0.1", 1000, "10.0.0.1", 1000, 17), FiveTuple, "10.0.0.1:1000<->10.0.0.1:1000/17", false},
		{"ipv6", fkey("2001:db8::2", 1, "2001:db8::1", 2, 6), FiveTuple, "[2001:db8::1]:2<->[2001:db8::2]:1/6", true},
		{"ipv4-mapped stays ipv6", fkey("::ffff:10.0.0.2", 1, "::ffff:10.0.0.1", 2, 6), FiveTuple, "[::ffff:10.0.0.1]:2<->[::ffff:10.0.0.2]:1/6", true},
		{"zone ignored", fkey("fe80::1%eth0", 1, "fe80::2%eth0", 2, 17), FiveTuple, "[fe80::1]:1<->[fe80::2]:2/17", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, swapped := Normalize(tt.in, tt.mode)
			if k.String() != tt.want || swapped != tt.swapped {
				t.Errorf("Normalize = %s, swapped %v; want %s, %v", k, swapped, tt.want, tt.swapped)
			}
		})
	}
	// 1.2.3.4 and ::ffff:1.2.3.4 have the same 16 bytes but are different flows.
	a, _ := Normalize(fkey("1.2.3.4", 1, "1.2.3.5", 2, 6), FiveTuple)
	b, _ := Normalize(fkey("::ffff:1.2.3.4", 1, "::ffff:1.2.3.5", 2, 6), FiveTuple)
	if a == b || a.Hash(0) == b.Hash(0) {
		t.Error("IPv4 flow and its IPv4-mapped twin share a key or hash")
	}
}

// randomKey draws from a small address and port pool so that equal
// endpoints and shared addresses come up often.
func randomKey(r *rand.Rand) packet.FlowKey {
	v4 := []string{"10.0.0.1", "10.0.0.2", "198.51.100.7", "0.0.0.0", "255.255.255.255"}
	v6 := []string{"2001:db8::1", "2001:db8::2", "fe80::1", "::", "ffff::1"}
	pool := v4
	if r.IntN(2) == 0 {
		pool = v6
	}
	ports := []uint16{0, 53, 443, 40000, 65535}
	protos := []uint8{ProtoTCP, ProtoUDP, 1, 50, 58}
	return packet.FlowKey{
		Src:     netip.MustParseAddr(pool[r.IntN(len(pool))]),
		Dst:     netip.MustParseAddr(pool[r.IntN(len(pool))]),
		SrcPort: ports[r.IntN(len(ports))],
		DstPort: ports[r.IntN(len(ports))],
		Proto:   protos[r.IntN(len(protos))],
	}
}

func TestSymmetryProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		fk := randomKey(r)
		seed := r.Uint64()
		for _, m := range []Mode{FiveTuple, ThreeTuple, TwoTuple} {
			k, sw := Normalize(fk, m)
			rk, rsw := Normalize(reverse(fk), m)
			if k != rk {
				t.Fatalf("%v %v: key %s, reverse key %s", m, fk, k, rk)
			}
			if k.Hash(seed) != rk.Hash(seed) {
				t.Fatalf("%v %v: hash differs by direction", m, fk)
			}
			if k.A() == k.B() {
				if sw || rsw {
					t.Fatalf("%v %v: equal endpoints reported swapped", m, fk)
				}
			} else if sw == rsw {
				t.Fatalf("%v %v: both directions swapped=%v", m, fk, sw)
			}
			if p := OuterPort(k.Hash(seed)); p < OuterPortMin {
				t.Fatalf("OuterPort = %d", p)
			}
			// What the mode ignores must not matter.
			other := fk
			other.SrcPort, other.DstPort = uint16(r.Uint32()), uint16(r.Uint32())
			ok, _ := Normalize(other, m)
			portsMatter := m == FiveTuple && (fk.Proto == ProtoTCP || fk.Proto == ProtoUDP)
			if !portsMatter && ok != k {
				t.Fatalf("%v %v: ports changed the key", m, fk)
			}
			other = fk
			other.Proto = ProtoUDP + ProtoTCP - fk.Proto // flip TCP<->UDP, others change too
			if pk, _ := Normalize(other, m); m == TwoTuple && pk != k {
				t.Fatalf("2-tuple %v: protocol changed the key", fk)
			}
		}
	}
}

func TestHashSeedAndSpread(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var targets [4]int
	ports := map[uint16]bool{}
	same := 0
	const n = 40000
	for i := range n {
		fk := packet.FlowKey{
			Src: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), Dst: netip.MustParseAddr("198.51.100.7"),
			SrcPort: uint16(r.Uint32()), DstPort: 443, Proto: ProtoTCP,
		}
		k, _ := Normalize(fk, FiveTuple)
		h := k.Hash(7)
		if h == k.Hash(8) {
			same++
		}
		targets[h%4]++
		ports[OuterPort(h)] = true
	}
	if same > 0 {
		t.Errorf("%d of %d hashes ignore the seed", same, n)
	}
	for i, c := range targets {
		if c < n/4*9/10 || c > n/4*11/10 {
			t.Errorf("target %d got %d of %d flows: h%%4 is skewed", i, c, n)
		}
	}
	if len(ports) < 14000 { // 40000 draws from 16384 ports cover ~14,100 of them
		t.Errorf("outer ports cover only %d of 16384 values", len(ports))
	}
}
