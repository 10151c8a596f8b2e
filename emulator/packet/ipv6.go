package packet

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 is a view of an IPv6 packet (RFC 8200 §3): the fixed header followed
// by extension headers and the upper-layer payload.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Traffic Class |           Flow Label                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                                                               +
//	|                         Source Address                        |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                                                               +
//	|                      Destination Address                      |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Extension headers walked by Upper. Hop-by-Hop (0, only right after the
// fixed header), Routing (43), Destination Options (60) and, per RFC 7045,
// Mobility (135), HIP (139) and Shim6 (140) share RFC 8200 §4.3's shape,
// with Hdr Ext Len in 8-byte units not counting the first 8:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Next Header  |  Hdr Ext Len  |                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	~                  type-specific data (6 + 8n bytes)            ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Fragment (44, RFC 8200 §4.5), always 8 bytes; the offset counts 8-byte
// units and M means more fragments:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Identification                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Authentication Header (51, RFC 4302 §2), whose Payload Len counts 32-bit
// words minus 2:
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	| Next Header   |  Payload Len  |          RESERVED             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Security Parameters Index, Sequence Number, ICV ...  ~
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// ESP (50) and No Next Header (59) end the walk: what follows cannot be
// parsed.
type IPv6 []byte

// Offsets and sizes of the IPv6 header.
const (
	ipv6VerTCFL   = 0
	ipv6PayLen    = 4
	ipv6NextHdr   = 6
	ipv6HopLimit  = 7
	ipv6Src       = 8
	ipv6Dst       = 24
	IPv6Len       = 40
	ipv6FragLen   = 8
	ipv6MinExtLen = 8
)

// Validate checks version and Payload Length against the slice. Jumbograms
// (RFC 2675, payload length 0 with a jumbo option) are not supported: such a
// packet validates as one with an empty payload.
func (b IPv6) Validate() error {
	if len(b) < IPv6Len {
		return ErrTruncated
	}
	if b.Version() != 6 {
		return ErrVersion
	}
	if IPv6Len+int(b.PayloadLen()) > len(b) {
		return ErrTruncated
	}
	return nil
}

func (b IPv6) Version() uint8         { return b[0] >> 4 }
func (b IPv6) TrafficClass() uint8    { return uint8(binary.BigEndian.Uint16(b[ipv6VerTCFL:]) >> 4) }
func (b IPv6) FlowLabel() uint32      { return binary.BigEndian.Uint32(b[ipv6VerTCFL:]) & 0xfffff }
func (b IPv6) PayloadLen() uint16     { return binary.BigEndian.Uint16(b[ipv6PayLen:]) }
func (b IPv6) NextHeader() uint8      { return b[ipv6NextHdr] }
func (b IPv6) HopLimit() uint8        { return b[ipv6HopLimit] }
func (b IPv6) Src() netip.Addr        { return netip.AddrFrom16([16]byte(b[ipv6Src:])) }
func (b IPv6) Dst() netip.Addr        { return netip.AddrFrom16([16]byte(b[ipv6Dst:])) }
func (b IPv6) Payload() []byte        { return b[IPv6Len : IPv6Len+int(b.PayloadLen())] }
func (b IPv6) SetPayloadLen(n uint16) { binary.BigEndian.PutUint16(b[ipv6PayLen:], n) }
func (b IPv6) SetNextHeader(p uint8)  { b[ipv6NextHdr] = p }
func (b IPv6) SetHopLimit(v uint8)    { b[ipv6HopLimit] = v }
func (b IPv6) SetSrc(a netip.Addr)    { put16(b[ipv6Src:], a) }
func (b IPv6) SetDst(a netip.Addr)    { put16(b[ipv6Dst:], a) }

// SetVersionClassLabel writes version 6, the traffic class and the 20-bit
// flow label.
func (b IPv6) SetVersionClassLabel(tc uint8, label uint32) {
	binary.BigEndian.PutUint32(b[ipv6VerTCFL:], 6<<28|uint32(tc)<<20|label&0xfffff)
}

func put16(b []byte, ip netip.Addr) {
	a := ip.As16()
	copy(b, a[:])
}

// Upper walks the extension headers (see the type's comment) and returns the
// upper-layer protocol and its offset from the start of b. A non-first
// fragment stops the walk at its fragment header: proto is that header's Next
// Header and off the start of the fragment data. An atomic fragment (offset
// 0, M clear, RFC 6946) counts as a whole packet. The walk stays within
// Payload Length, so call Validate first.
func (b IPv6) Upper() (proto uint8, off int, frag Fragment, err error) {
	end := IPv6Len + int(b.PayloadLen())
	proto, off = b.NextHeader(), IPv6Len
	for {
		var n int
		switch proto {
		case ProtoHopByHop, ProtoRouting, ProtoDestOpts, ProtoMobility, ProtoHIP, ProtoShim6:
			if proto == ProtoHopByHop && off != IPv6Len {
				return proto, off, frag, ErrExtHeader
			}
			if off+2 > end {
				return proto, off, frag, ErrTruncated
			}
			n = (int(b[off+1]) + 1) * 8
		case ProtoAH:
			if off+2 > end {
				return proto, off, frag, ErrTruncated
			}
			n = (int(b[off+1]) + 2) * 4
		case ProtoFragment:
			if off+ipv6FragLen > end {
				return proto, off, frag, ErrTruncated
			}
			w := binary.BigEndian.Uint16(b[off+2:])
			proto, off = b[off], off+ipv6FragLen
			if w&0xfff8 != 0 {
				return proto, off, LaterFragment, nil
			}
			if w&1 != 0 {
				frag = FirstFragment
			}
			continue
		default:
			return proto, off, frag, nil
		}
		if off+n > end {
			return proto, off, frag, ErrTruncated
		}
		proto, off = b[off], off+n
	}
}
