package packet

import "net/netip"

// Neighbor Discovery (RFC 4861) messages the lab's routers exchange: the
// Neighbor Solicitation (§4.3) and Neighbor Advertisement (§4.4), with the
// link-layer address option (§4.6.1). Both have the same shape after the
// ICMPv6 header; R, S and O are flags of the advertisement only:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|R|S|O|                     Reserved                            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                       Target Address                          +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |    Length     |    Link-Layer Address ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	ndpTarget = 8
	// NDPLen is a solicitation or advertisement without options.
	NDPLen = 24
	// NDP option types (RFC 4861 §4.6.1).
	NDPOptSourceLL = 1
	NDPOptTargetLL = 2
	ndpOptLLLen    = 8

	// NA flags in the first byte after the checksum.
	NDPFlagRouter    = 0x80
	NDPFlagSolicited = 0x40
	NDPFlagOverride  = 0x20

	// NDPHopLimit is the only hop limit a valid ND message carries.
	NDPHopLimit = 255
)

// NDPTarget returns the Target Address of a solicitation or advertisement
// (m at least NDPLen bytes long).
func NDPTarget(m ICMPv6) netip.Addr { return netip.AddrFrom16([16]byte(m[ndpTarget:])) }

// NDPFlags returns the R, S and O flags of an advertisement.
func NDPFlags(m ICMPv6) uint8 { return m[4] }

// SolicitedNode returns the solicited-node multicast address of a
// (RFC 4291 §2.7.1): ff02::1:ffXX:XXXX with the low 24 bits of a.
func SolicitedNode(a netip.Addr) netip.Addr {
	s := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 10: 0, 11: 1, 12: 0xff, 13: s[13], 14: s[14], 15: s[15]})
}

// multicastMAC is the Ethernet address of an IPv6 multicast group
// (RFC 2464 §7): 33:33 and the group's low 32 bits.
func multicastMAC(a netip.Addr) MAC {
	s := a.As16()
	return MAC{0x33, 0x33, s[12], s[13], s[14], s[15]}
}

// appendNDP appends an Ethernet frame with an ND message of type typ whose
// one option is a link-layer address option of type opt.
func appendNDP(b []byte, dstMAC, srcMAC MAC, src, dst netip.Addr, typ, flags uint8, target netip.Addr, opt uint8) []byte {
	b = AppendEthernet(b, dstMAC, srcMAC, EtherTypeIPv6)
	b, _ = appendIP(b, IPHeader{Src: src, Dst: dst, TTL: NDPHopLimit}, ProtoICMPv6, NDPLen+ndpOptLLLen)
	start := len(b)
	b, m := grow(b, NDPLen+ndpOptLLLen)
	clear(m)
	m[icmpType] = typ
	m[4] = flags
	put16(m[ndpTarget:], target)
	m[NDPLen] = opt
	m[NDPLen+1] = 1 // in units of 8 bytes
	copy(m[NDPLen+2:], srcMAC[:])
	ICMPv6(b[start:]).ComputeChecksum(src, dst)
	return b
}

// AppendNeighborSolicit appends a frame soliciting target's link-layer
// address from src, sent to target's solicited-node multicast group.
func AppendNeighborSolicit(b []byte, srcMAC MAC, src, target netip.Addr) []byte {
	group := SolicitedNode(target)
	return appendNDP(b, multicastMAC(group), srcMAC, src, group, ICMPv6NeighborSolicit, 0, target, NDPOptSourceLL)
}

// AppendNeighborAdvert appends a solicited advertisement that target is at
// srcMAC, sent to dst at dstMAC; router sets the R flag. A zero dst (the
// solicitation came from the unspecified address during DAD) answers to
// all-nodes, unsolicited (RFC 4861 §7.2.4).
func AppendNeighborAdvert(b []byte, srcMAC, dstMAC MAC, target, dst netip.Addr, router bool) []byte {
	flags := uint8(NDPFlagSolicited | NDPFlagOverride)
	if !dst.IsValid() || dst.IsUnspecified() {
		dst = netip.IPv6LinkLocalAllNodes()
		dstMAC = multicastMAC(dst)
		flags = NDPFlagOverride
	}
	if router {
		flags |= NDPFlagRouter
	}
	return appendNDP(b, dstMAC, srcMAC, target, dst, ICMPv6NeighborAdvert, flags, target, NDPOptTargetLL)
}
