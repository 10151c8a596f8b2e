package packet

import "net/netip"

// FlowKey names a flow by its inner headers, as the GWLB's flow table and the
// appliances see it. Ports are zero for protocols that carry none (ICMP, ESP,
// GRE, ...) and for non-first fragments. The struct is comparable and holds no
// pointers besides netip.Addr's zone handle, so it is a cheap map key.
type FlowKey struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
}

// FlowInfo is what ParseFlow learns beside the key.
type FlowInfo struct {
	// Version is 4 or 6.
	Version uint8
	// L4Offset is the offset of the transport header (or, for a later
	// fragment, of the fragment data) in the packet.
	L4Offset int
	// TCPFlags are the TCP flags when the TCP header is present.
	TCPFlags uint8
	// Fragment says whether the packet is whole or which fragment it is. A
	// later fragment has no ports, so its key is the 3-tuple.
	Fragment Fragment
}

// ParseFlow reads the flow key of an IPv4 or IPv6 packet. TCP and UDP give a
// 5-tuple; every other protocol (ICMP, ICMPv6, ESP, GRE, ...) a 3-tuple with
// zero ports. A first fragment gives ports when its fixed transport header
// (20 bytes for TCP, 8 for UDP) is all there; a later fragment never does. A
// whole TCP or UDP packet too short for its header is an error. The packet
// may carry trailing bytes beyond its IP length (Ethernet padding). It never
// allocates.
func ParseFlow(ipPacket []byte) (FlowKey, FlowInfo, error) {
	var k FlowKey
	var fi FlowInfo
	if len(ipPacket) == 0 {
		return k, fi, ErrTruncated
	}
	var l4 []byte
	switch ipPacket[0] >> 4 {
	case 4:
		ip := IPv4(ipPacket)
		if err := ip.Validate(); err != nil {
			return k, fi, err
		}
		k.Src, k.Dst, k.Proto = ip.Src(), ip.Dst(), ip.Protocol()
		fi.Version, fi.L4Offset, fi.Fragment = 4, ip.HeaderLen(), ip.Fragment()
		l4 = ip.Payload()
	case 6:
		ip := IPv6(ipPacket)
		if err := ip.Validate(); err != nil {
			return k, fi, err
		}
		proto, off, frag, err := ip.Upper()
		if err != nil {
			return k, fi, err
		}
		k.Src, k.Dst, k.Proto = ip.Src(), ip.Dst(), proto
		fi.Version, fi.L4Offset, fi.Fragment = 6, off, frag
		l4 = ipPacket[off : IPv6Len+int(ip.PayloadLen())]
	default:
		return k, fi, ErrVersion
	}
	if fi.Fragment == LaterFragment {
		return k, fi, nil
	}
	switch k.Proto {
	case ProtoTCP:
		t := TCP(l4)
		if len(t) < TCPLen {
			if fi.Fragment == FirstFragment {
				return k, fi, nil
			}
			return k, fi, ErrTruncated
		}
		k.SrcPort, k.DstPort, fi.TCPFlags = t.SrcPort(), t.DstPort(), t.Flags()
	case ProtoUDP:
		u := UDP(l4)
		if len(u) < UDPLen {
			if fi.Fragment == FirstFragment {
				return k, fi, nil
			}
			return k, fi, ErrTruncated
		}
		k.SrcPort, k.DstPort = u.SrcPort(), u.DstPort()
	}
	return k, fi, nil
}
