package packet

import (
	"testing"
)

// The decode and encap path must not allocate per packet (DESIGN §4.1).
func TestNoAllocations(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation can allocate")
	}
	syn := unhex(t, goldenSYN)
	inner := innerOf(syn)
	buf, off := withHeadroom(inner)
	p := gwlbParams(60672, true, 0x5f3e2a1b)
	v6pkt := v6(ProtoHopByHop, ext(ProtoFragment, 8), frag(ProtoTCP, 0, true), tcpHdr)
	clampSeg := TCP(AppendTCP(nil, IPHeader{Src: v4src, Dst: v4dst}, TCPHeader{Flags: TCPFlagSYN, Options: MSSOption(8961)}, nil)[20:])
	arp := make([]byte, 0, 64)
	tests := []struct {
		name string
		f    func()
	}{
		{"Encap", func() {
			if _, err := Encap(buf, off, len(inner), &p); err != nil {
				panic(err)
			}
		}},
		{"Decap", func() {
			if _, err := Decap(syn); err != nil {
				panic(err)
			}
		}},
		{"Decap error", func() {
			if _, err := Decap(syn[:60]); err == nil {
				panic("no error")
			}
		}},
		{"ParseFlow ipv4", func() {
			if _, _, err := ParseFlow(inner); err != nil {
				panic(err)
			}
		}},
		{"ParseFlow ipv6 extension headers", func() {
			if _, _, err := ParseFlow(v6pkt); err != nil {
				panic(err)
			}
		}},
		{"AWSOptions", func() {
			if _, err := Geneve(syn[42:]).AWSOptions(); err != nil {
				panic(err)
			}
		}},
		{"option iterator", func() {
			it := Geneve(syn[42:]).Options()
			for it.Next() {
				_ = it.Option().Data()
			}
		}},
		{"ClampMSS", func() {
			clampSeg.ClampMSS(1200)
			clampSeg.ClampMSS(8961) // no-op, keeps the loop honest
		}},
		{"TransportChecksum", func() {
			_ = TransportChecksum(ProtoTCP, v6src, v6dst, v6pkt[40:])
		}},
		{"ChecksumAdjustAddr", func() {
			_ = ChecksumAdjustAddr(0x1234, v6src, v6dst)
		}},
		{"AppendARPReply into capacity", func() {
			arp = AppendARPReply(arp[:0], macGWLB, v4src, macAppliance, v4dst)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(200, tt.f); n != 0 {
				t.Errorf("%v allocations per run, want 0", n)
			}
		})
	}
}

// innerOf returns a copy of the inner packet of a GWLB frame.
func innerOf(frame []byte) []byte { return append([]byte(nil), frame[EncapLen:]...) }

func BenchmarkEncap(b *testing.B) {
	inner := AppendTCP(nil, IPHeader{Src: v4src, Dst: v4dst}, TCPHeader{Flags: TCPFlagACK}, make([]byte, 1400))
	buf, off := withHeadroom(inner)
	for _, sum := range []bool{false, true} {
		p := gwlbParams(60672, sum, 1)
		name := "no-udp-checksum"
		if sum {
			name = "udp-checksum"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(inner)))
			for b.Loop() {
				Encap(buf, off, len(inner), &p)
			}
		})
	}
}

func BenchmarkDecap(b *testing.B) {
	frame := unhex(b, goldenSYN)
	for b.Loop() {
		Decap(frame)
	}
}

func BenchmarkParseFlow(b *testing.B) {
	pkt := v6(ProtoHopByHop, ext(ProtoTCP, 8), tcpHdr)
	for b.Loop() {
		ParseFlow(pkt)
	}
}

func BenchmarkChecksum(b *testing.B) {
	buf := make([]byte, 8500)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		Checksum(buf, 0)
	}
}
