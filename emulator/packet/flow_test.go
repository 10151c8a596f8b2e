package packet

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	v6src = addr("2001:db8:0:11::10")
	v6dst = addr("2001:db8:0:22::96")
	v4src = addr("10.1.11.16")
	v4dst = addr("10.1.22.150")
)

// ext returns an extension header of the generic shape (RFC 8200 §4.3) of
// n bytes (a multiple of 8) followed by next.
func ext(next uint8, n int) []byte {
	b := make([]byte, n)
	b[0], b[1] = next, uint8(n/8-1)
	return b
}

// frag returns a fragment header with the offset in bytes.
func frag(next uint8, offset uint16, more bool) []byte {
	b := make([]byte, 8)
	b[0] = next
	w := offset
	if more {
		w |= 1
	}
	binary.BigEndian.PutUint16(b[2:], w)
	binary.BigEndian.PutUint32(b[4:], 0xdeadbeef)
	return b
}

// ah returns an authentication header of n bytes (a multiple of 4, ≥ 12).
func ah(next uint8, n int) []byte {
	b := make([]byte, n)
	b[0], b[1] = next, uint8(n/4-2)
	return b
}

var (
	udpHdr = []byte{0x12, 0x34, 0x00, 0x35, 0, 8, 0, 0}
	tcpHdr = []byte{0x7e, 0xe6, 0x00, 0x50, 1, 2, 3, 4, 0, 0, 0, 0, 0x50, TCPFlagACK | TCPFlagPSH, 0xff, 0xff, 0, 0, 0, 0}
)

// v6 builds an IPv6 packet whose fixed header names first and whose
// payload is the concatenation of parts.
func v6(first uint8, parts ...[]byte) []byte {
	var payload []byte
	for _, p := range parts {
		payload = append(payload, p...)
	}
	return AppendIP(nil, IPHeader{Src: v6src, Dst: v6dst}, first, payload)
}

func TestIPv6Upper(t *testing.T) {
	tests := []struct {
		name  string
		pkt   []byte
		proto uint8
		off   int
		frag  Fragment
		err   error
	}{
		{"plain tcp", v6(ProtoTCP, tcpHdr), ProtoTCP, 40, NotFragment, nil},
		{"hop-by-hop", v6(ProtoHopByHop, ext(ProtoTCP, 8), tcpHdr), ProtoTCP, 48, NotFragment, nil},
		{"every kind", v6(ProtoHopByHop,
			ext(ProtoDestOpts, 16), ext(ProtoRouting, 8), ext(ProtoFragment, 24), frag(ProtoAH, 0, true),
			ah(ProtoMobility, 24), ext(ProtoHIP, 8), ext(ProtoShim6, 8), ext(ProtoDestOpts, 8), ext(ProtoUDP, 8), udpHdr),
			ProtoUDP, 40 + 16 + 8 + 24 + 8 + 24 + 8 + 8 + 8 + 8, FirstFragment, nil},
		{"later fragment", v6(ProtoRouting, ext(ProtoFragment, 8), frag(ProtoTCP, 1480, true), []byte{1, 2, 3}), ProtoTCP, 56, LaterFragment, nil},
		{"last fragment", v6(ProtoFragment, frag(ProtoUDP, 8, false), []byte{1}), ProtoUDP, 48, LaterFragment, nil},
		{"later fragment with more headers after", v6(ProtoFragment, frag(ProtoDestOpts, 1480, true), ext(ProtoTCP, 8)), ProtoDestOpts, 48, LaterFragment, nil},
		{"atomic fragment", v6(ProtoFragment, frag(ProtoUDP, 0, false), udpHdr), ProtoUDP, 48, NotFragment, nil},
		{"esp ends the walk", v6(ProtoDestOpts, ext(ProtoESP, 8), []byte{0, 0, 0, 1}), ProtoESP, 48, NotFragment, nil},
		{"no next header", v6(ProtoHopByHop, ext(ProtoNoNext, 8)), ProtoNoNext, 48, NotFragment, nil},
		{"icmpv6", v6(ProtoICMPv6, []byte{128, 0, 0, 0, 0, 1, 0, 1}), ProtoICMPv6, 40, NotFragment, nil},
		{"empty payload", v6(ProtoTCP), ProtoTCP, 40, NotFragment, nil},
		{"hop-by-hop not first", v6(ProtoDestOpts, ext(ProtoHopByHop, 8), ext(ProtoTCP, 8)), ProtoHopByHop, 48, NotFragment, ErrExtHeader},
		{"extension header overruns", v6(ProtoRouting, ext(ProtoTCP, 16)[:8]), ProtoRouting, 40, NotFragment, ErrTruncated},
		{"one byte of extension header", v6(ProtoDestOpts, []byte{6}), ProtoDestOpts, 40, NotFragment, ErrTruncated},
		{"fragment header cut", v6(ProtoFragment, frag(ProtoTCP, 0, true)[:7]), ProtoFragment, 40, NotFragment, ErrTruncated},
		{"ah overruns", v6(ProtoAH, ah(ProtoTCP, 24)[:20]), ProtoAH, 40, NotFragment, ErrTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := IPv6(tt.pkt)
			if err := ip.Validate(); err != nil {
				t.Fatal(err)
			}
			proto, off, frag, err := ip.Upper()
			if proto != tt.proto || off != tt.off || frag != tt.frag || err != tt.err {
				t.Errorf("Upper = %d, %d, %v, %v; want %d, %d, %v, %v", proto, off, frag, err, tt.proto, tt.off, tt.frag, tt.err)
			}
		})
	}
}

// v4 builds an IPv4 packet; options are appended to the header.
func v4(proto uint8, mutate func(IPv4), options []byte, payload []byte) []byte {
	b := AppendIP(nil, IPHeader{Src: v4src, Dst: v4dst}, proto, nil)
	b = append(b, options...)
	b = append(b, payload...)
	ip := IPv4(b)
	ip.SetHeaderLen(IPv4Len + len(options))
	ip.SetTotalLen(uint16(len(b)))
	if mutate != nil {
		mutate(ip)
	}
	ip.ComputeChecksum()
	return b
}

func TestParseFlow(t *testing.T) {
	key := func(src, dst string, sp, dp uint16, proto uint8) FlowKey {
		return FlowKey{Src: addr(src), Dst: addr(dst), SrcPort: sp, DstPort: dp, Proto: proto}
	}
	const a4, b4, a6, b6 = "10.1.11.16", "10.1.22.150", "2001:db8:0:11::10", "2001:db8:0:22::96"
	firstFrag := func(ip IPv4) { ip.SetFlags(IPv4FlagMF) }
	laterFrag := func(ip IPv4) { ip.SetFragOffset(1480) }
	tests := []struct {
		name string
		pkt  []byte
		key  FlowKey
		info FlowInfo
		err  error
	}{
		{"ipv4 tcp", v4(ProtoTCP, nil, nil, tcpHdr), key(a4, b4, 32486, 80, ProtoTCP), FlowInfo{4, 20, TCPFlagACK | TCPFlagPSH, NotFragment}, nil},
		{"ipv4 udp", v4(ProtoUDP, nil, nil, udpHdr), key(a4, b4, 0x1234, 53, ProtoUDP), FlowInfo{4, 20, 0, NotFragment}, nil},
		{"ipv4 icmp is a 3-tuple", v4(ProtoICMP, nil, nil, []byte{8, 0, 0, 0, 0, 1, 0, 1}), key(a4, b4, 0, 0, ProtoICMP), FlowInfo{4, 20, 0, NotFragment}, nil},
		{"ipv4 gre is a 3-tuple", v4(47, nil, nil, []byte{0, 0, 8, 0}), key(a4, b4, 0, 0, 47), FlowInfo{4, 20, 0, NotFragment}, nil},
		{"ipv4 esp with no payload", v4(ProtoESP, nil, nil, nil), key(a4, b4, 0, 0, ProtoESP), FlowInfo{4, 20, 0, NotFragment}, nil},
		{"ipv4 options", v4(ProtoTCP, nil, []byte{0x94, 4, 0, 0, 1, 1, 1, 0}, tcpHdr), key(a4, b4, 32486, 80, ProtoTCP), FlowInfo{4, 28, TCPFlagACK | TCPFlagPSH, NotFragment}, nil},
		{"ipv4 ethernet padding", append(v4(ProtoUDP, nil, nil, udpHdr), 0, 0, 0, 0), key(a4, b4, 0x1234, 53, ProtoUDP), FlowInfo{4, 20, 0, NotFragment}, nil},
		{"ipv4 first fragment", v4(ProtoTCP, firstFrag, nil, tcpHdr), key(a4, b4, 32486, 80, ProtoTCP), FlowInfo{4, 20, TCPFlagACK | TCPFlagPSH, FirstFragment}, nil},
		{"ipv4 first fragment, tcp header cut", v4(ProtoTCP, firstFrag, nil, tcpHdr[:16]), key(a4, b4, 0, 0, ProtoTCP), FlowInfo{4, 20, 0, FirstFragment}, nil},
		{"ipv4 first fragment, udp header cut", v4(ProtoUDP, firstFrag, nil, udpHdr[:4]), key(a4, b4, 0, 0, ProtoUDP), FlowInfo{4, 20, 0, FirstFragment}, nil},
		{"ipv4 later fragment", v4(ProtoTCP, laterFrag, nil, tcpHdr), key(a4, b4, 0, 0, ProtoTCP), FlowInfo{4, 20, 0, LaterFragment}, nil},
		{"ipv4 tcp cut", v4(ProtoTCP, nil, nil, tcpHdr[:19]), FlowKey{}, FlowInfo{}, ErrTruncated},
		{"ipv4 udp cut", v4(ProtoUDP, nil, nil, udpHdr[:7]), FlowKey{}, FlowInfo{}, ErrTruncated},
		{"ipv4 total length beyond slice", v4(ProtoUDP, nil, nil, udpHdr)[:27], FlowKey{}, FlowInfo{}, ErrTruncated},
		{"ipv4 ihl 4", v4(ProtoUDP, func(ip IPv4) { ip[0] = 0x44 }, nil, udpHdr), FlowKey{}, FlowInfo{}, ErrHeaderLen},

		{"ipv6 tcp", v6(ProtoTCP, tcpHdr), key(a6, b6, 32486, 80, ProtoTCP), FlowInfo{6, 40, TCPFlagACK | TCPFlagPSH, NotFragment}, nil},
		{"ipv6 udp after extension headers", v6(ProtoHopByHop, ext(ProtoRouting, 8), ext(ProtoUDP, 16), udpHdr), key(a6, b6, 0x1234, 53, ProtoUDP), FlowInfo{6, 64, 0, NotFragment}, nil},
		{"ipv6 icmpv6 is a 3-tuple", v6(ProtoICMPv6, []byte{128, 0, 0, 0, 0, 1, 0, 1}), key(a6, b6, 0, 0, ProtoICMPv6), FlowInfo{6, 40, 0, NotFragment}, nil},
		{"ipv6 first fragment", v6(ProtoFragment, frag(ProtoTCP, 0, true), tcpHdr), key(a6, b6, 32486, 80, ProtoTCP), FlowInfo{6, 48, TCPFlagACK | TCPFlagPSH, FirstFragment}, nil},
		{"ipv6 first fragment, udp cut", v6(ProtoFragment, frag(ProtoUDP, 0, true), udpHdr[:6]), key(a6, b6, 0, 0, ProtoUDP), FlowInfo{6, 48, 0, FirstFragment}, nil},
		{"ipv6 later fragment", v6(ProtoFragment, frag(ProtoUDP, 8, false), udpHdr), key(a6, b6, 0, 0, ProtoUDP), FlowInfo{6, 48, 0, LaterFragment}, nil},
		{"ipv6 esp", v6(ProtoESP, []byte{0, 0, 0, 1, 0, 0, 0, 1}), key(a6, b6, 0, 0, ProtoESP), FlowInfo{6, 40, 0, NotFragment}, nil},
		{"ipv6 trailing padding", append(v6(ProtoUDP, udpHdr), 0xff, 0xff), key(a6, b6, 0x1234, 53, ProtoUDP), FlowInfo{6, 40, 0, NotFragment}, nil},
		{"ipv6 tcp cut", v6(ProtoTCP, tcpHdr[:10]), FlowKey{}, FlowInfo{}, ErrTruncated},
		{"ipv6 bad chain", v6(ProtoDestOpts, ext(ProtoHopByHop, 8), ext(ProtoTCP, 8)), FlowKey{}, FlowInfo{}, ErrExtHeader},
		{"ipv6 payload beyond slice", v6(ProtoUDP, udpHdr)[:47], FlowKey{}, FlowInfo{}, ErrTruncated},

		{"empty", nil, FlowKey{}, FlowInfo{}, ErrTruncated},
		{"version 5", []byte{0x50, 0, 0, 0}, FlowKey{}, FlowInfo{}, ErrVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, fi, err := ParseFlow(tt.pkt)
			if err != tt.err {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tt.key, k, cmpOpts); diff != "" {
				t.Errorf("key (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.info, fi); diff != "" {
				t.Errorf("info (-want +got):\n%s", diff)
			}
		})
	}
}
