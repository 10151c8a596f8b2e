package packet

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// naiveSum is RFC 1071 written the obvious way: 16-bit words, end-around
// carry after every addition.
func naiveSum(b []byte, initial uint16) uint16 {
	s := uint32(initial)
	for i := 0; i < len(b); i += 2 {
		w := uint32(b[i]) << 8
		if i+1 < len(b) {
			w |= uint32(b[i+1])
		}
		s += w
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func TestChecksumKnownValues(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		initial uint16
		want    uint16 // the sum, not its complement
	}{
		// RFC 1071 §3's worked example.
		{"rfc 1071 example", "0001 f203 f4f5 f6f7", 0, 0xddf2},
		{"empty", "", 0, 0},
		{"empty with initial", "", 0x1234, 0x1234},
		{"odd byte is padded", "01", 0, 0x0100},
		{"all ones", "ffff ffff", 0, 0xffff},
		{"end-around carry", "ffff 0001", 0, 0x0001},
		// A well-known IPv4 header with the checksum field zero: the stored
		// checksum is 0xb861.
		{"ipv4 header", "4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7", 0, ^uint16(0xb861)},
		// The golden frames' headers, checksums verified with tshark: a
		// correct header sums to 0xffff.
		{"golden outer ipv4", "45000080 00004000 4011b6f2 c0a80116 c0a80114", 0, 0xffff},
		{"golden inner ipv4", "4500003c 8a2f4000 40067ae5 0a010b10 0a011696", 0, 0xffff},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := unhex(t, tt.data)
			if got := Checksum(b, tt.initial); got != tt.want {
				t.Errorf("Checksum = %#04x, want %#04x", got, tt.want)
			}
		})
	}
}

func TestChecksumMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 5000 {
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if r.IntN(4) == 0 { // runs of 0xff stress the carries
			for i := range b {
				b[i] = 0xff
			}
		}
		init := uint16(r.Uint32())
		if got, want := Checksum(b, init), naiveSum(b, init); got != want {
			t.Fatalf("len %d init %#x: Checksum %#04x, naive %#04x", len(b), init, got, want)
		}
	}
}

func TestTransportChecksumGolden(t *testing.T) {
	// The golden SYN's TCP segment and the ICMPv6 message, as tshark
	// verified them.
	syn := unhex(t, goldenSYN)[82+20:]
	if got := TransportChecksum(ProtoTCP, v4src, v4dst, syn); got != 0 {
		t.Errorf("TCP over IPv4: %#04x, want 0", got)
	}
	TCP(syn).SetChecksum(0)
	if got := TransportChecksum(ProtoTCP, v4src, v4dst, syn); got != 0xa4ef {
		t.Errorf("TCP over IPv4 recomputed: %#04x, want 0xa4ef", got)
	}
	icmp6 := unhex(t, goldenICMPv6)[82+40:]
	if got := TransportChecksum(ProtoICMPv6, addr("2001:db8:0:11::10"), addr("2001:db8:0:22::96"), icmp6); got != 0 {
		t.Errorf("ICMPv6: %#04x, want 0", got)
	}
	udp := unhex(t, goldenSYN)[34:]
	if got := TransportChecksum(ProtoUDP, addr("192.168.1.22"), addr("192.168.1.20"), udp); got != 0 {
		t.Errorf("outer UDP: %#04x, want 0", got)
	}
}

// TestChecksumAdjust rewrites random fields of random TCP and UDP packets
// and checks the incremental update against a full recomputation.
func TestChecksumAdjust(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	randAddr := func(v6 bool) netip.Addr {
		if v6 {
			var a [16]byte
			for i := range a {
				a[i] = byte(r.Uint32())
			}
			return netip.AddrFrom16(a)
		}
		return netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
	}
	for i := range 20000 {
		v6 := i%2 == 1
		h := IPHeader{Src: randAddr(v6), Dst: randAddr(v6), TTL: uint8(r.Uint32()), ID: uint16(r.Uint32())}
		payload := make([]byte, r.IntN(64))
		for j := range payload {
			payload[j] = byte(r.Uint32())
		}
		p := AppendTCP(nil, h, TCPHeader{SrcPort: uint16(r.Uint32()), DstPort: uint16(r.Uint32()), Seq: r.Uint32(), Ack: r.Uint32(), Flags: uint8(r.Uint32()), Window: uint16(r.Uint32())}, payload)
		off := IPv4Len
		if v6 {
			off = IPv6Len
		}
		seg := TCP(p[off:])
		check := seg.Checksum()
		switch r.IntN(4) {
		case 0: // a port (16 bits)
			old, nw := seg.DstPort(), uint16(r.Uint32())
			seg.SetDstPort(nw)
			check = ChecksumAdjust16(check, old, nw)
		case 1: // the sequence number (32 bits)
			old, nw := seg.Seq(), r.Uint32()
			seg.SetSeq(nw)
			check = ChecksumAdjust32(check, old, nw)
		case 2: // the source address (pseudo-header), as NAT does
			old, nw := h.Src, randAddr(v6)
			h.Src = nw
			check = ChecksumAdjustAddr(check, old, nw)
		case 3: // a random aligned word of the payload
			if len(payload) < 2 {
				continue
			}
			o := seg.DataOffset() + 2*r.IntN(len(payload)/2)
			old, nw := binary.BigEndian.Uint16(seg[o:]), uint16(r.Uint32())
			binary.BigEndian.PutUint16(seg[o:], nw)
			check = ChecksumAdjust16(check, old, nw)
		}
		seg.ComputeChecksum(h.Src, h.Dst)
		if want := seg.Checksum(); check != want {
			t.Fatalf("iteration %d: incremental %#04x, full %#04x", i, check, want)
		}
	}
}

func TestChecksumAdjustIPv4Header(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for i := range 10000 {
		b := AppendIP(nil, IPHeader{Src: netip.AddrFrom4([4]byte{10, byte(i), 0, 1}), Dst: addr("198.51.100.9"), TTL: uint8(r.Uint32()), ID: uint16(r.Uint32())}, ProtoUDP, nil)
		ip := IPv4(b)
		check := ip.Checksum()
		// Decrement TTL (the word TTL|protocol) and rewrite the destination.
		oldWord := binary.BigEndian.Uint16(b[8:])
		ip.SetTTL(ip.TTL() - 1)
		check = ChecksumAdjust16(check, oldWord, binary.BigEndian.Uint16(b[8:]))
		oldDst, newDst := ip.Dst(), netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
		ip.SetDst(newDst)
		a4, n4 := oldDst.As4(), newDst.As4()
		check = ChecksumAdjust32(check, binary.BigEndian.Uint32(a4[:]), binary.BigEndian.Uint32(n4[:]))
		ip.ComputeChecksum()
		if check != ip.Checksum() {
			t.Fatalf("iteration %d: incremental %#04x, full %#04x", i, check, ip.Checksum())
		}
	}
}

func TestChecksumAdjustOddOffset(t *testing.T) {
	// A 16-bit value at an odd offset counts byte-swapped (RFC 1071 §2 (B)).
	r := rand.New(rand.NewPCG(11, 12))
	for range 5000 {
		b := make([]byte, 2+2*r.IntN(20)+1)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		check := ^Checksum(b, 0)
		o := 1 + 2*r.IntN((len(b)-1)/2)
		old, nw := binary.BigEndian.Uint16(b[o:]), uint16(r.Uint32())
		binary.BigEndian.PutUint16(b[o:], nw)
		got := ChecksumAdjust16(check, bits.ReverseBytes16(old), bits.ReverseBytes16(nw))
		if want := ^Checksum(b, 0); got != want {
			t.Fatalf("offset %d: incremental %#04x, full %#04x", o, got, want)
		}
	}
}
