package packet

import (
	"encoding/binary"
	"net/netip"
)

// IPv4 is a view of an IPv4 packet (RFC 791 §3.1): header, options and
// payload.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// IHL counts 32-bit words (5..15). Flags are, from the top: reserved, DF
// (don't fragment), MF (more fragments); the fragment offset counts 8-byte
// units. The slice may extend past Total Length (Ethernet padding); Payload
// stops at Total Length.
type IPv4 []byte

// Offsets and sizes of the IPv4 header.
const (
	ipv4VerIHL   = 0
	ipv4TOS      = 1
	ipv4TotalLen = 2
	ipv4ID       = 4
	ipv4FlagsOff = 6
	ipv4TTL      = 8
	ipv4Proto    = 9
	ipv4Checksum = 10
	ipv4Src      = 12
	ipv4Dst      = 16
	IPv4Len      = 20 // without options
	IPv4MaxLen   = 60 // with 40 bytes of options
)

// IPv4 flag bits as returned by Flags.
const (
	IPv4FlagMF       = 1 << 0
	IPv4FlagDF       = 1 << 1
	IPv4FlagReserved = 1 << 2
)

// IP protocol numbers (IANA), also IPv6 next-header values.
const (
	ProtoHopByHop = 0
	ProtoICMP     = 1
	ProtoTCP      = 6
	ProtoUDP      = 17
	ProtoRouting  = 43
	ProtoFragment = 44
	ProtoESP      = 50
	ProtoAH       = 51
	ProtoICMPv6   = 58
	ProtoNoNext   = 59
	ProtoDestOpts = 60
	ProtoMobility = 135
	ProtoHIP      = 139
	ProtoShim6    = 140
)

// Validate checks version, IHL and Total Length against the slice. It does
// not check the header checksum: see ChecksumValid.
func (b IPv4) Validate() error {
	if len(b) < IPv4Len {
		return ErrTruncated
	}
	if b.Version() != 4 {
		return ErrVersion
	}
	hl, tl := b.HeaderLen(), int(b.TotalLen())
	if hl < IPv4Len || tl < hl {
		return ErrHeaderLen
	}
	if tl > len(b) {
		return ErrTruncated
	}
	return nil
}

func (b IPv4) Version() uint8       { return b[ipv4VerIHL] >> 4 }
func (b IPv4) HeaderLen() int       { return int(b[ipv4VerIHL]&0x0f) * 4 }
func (b IPv4) TOS() uint8           { return b[ipv4TOS] }
func (b IPv4) TotalLen() uint16     { return binary.BigEndian.Uint16(b[ipv4TotalLen:]) }
func (b IPv4) ID() uint16           { return binary.BigEndian.Uint16(b[ipv4ID:]) }
func (b IPv4) Flags() uint8         { return b[ipv4FlagsOff] >> 5 }
func (b IPv4) DF() bool             { return b.Flags()&IPv4FlagDF != 0 }
func (b IPv4) MF() bool             { return b.Flags()&IPv4FlagMF != 0 }
func (b IPv4) TTL() uint8           { return b[ipv4TTL] }
func (b IPv4) Protocol() uint8      { return b[ipv4Proto] }
func (b IPv4) Checksum() uint16     { return binary.BigEndian.Uint16(b[ipv4Checksum:]) }
func (b IPv4) Src() netip.Addr      { return netip.AddrFrom4([4]byte(b[ipv4Src:])) }
func (b IPv4) Dst() netip.Addr      { return netip.AddrFrom4([4]byte(b[ipv4Dst:])) }
func (b IPv4) Options() []byte      { return b[IPv4Len:b.HeaderLen()] }
func (b IPv4) Payload() []byte      { return b[b.HeaderLen():b.TotalLen()] }
func (b IPv4) SetTOS(v uint8)       { b[ipv4TOS] = v }
func (b IPv4) SetTotalLen(n uint16) { binary.BigEndian.PutUint16(b[ipv4TotalLen:], n) }
func (b IPv4) SetID(v uint16)       { binary.BigEndian.PutUint16(b[ipv4ID:], v) }
func (b IPv4) SetTTL(v uint8)       { b[ipv4TTL] = v }
func (b IPv4) SetProtocol(p uint8)  { b[ipv4Proto] = p }
func (b IPv4) SetChecksum(c uint16) { binary.BigEndian.PutUint16(b[ipv4Checksum:], c) }
func (b IPv4) SetSrc(a netip.Addr)  { put4(b[ipv4Src:], a) }
func (b IPv4) SetDst(a netip.Addr)  { put4(b[ipv4Dst:], a) }

// FragOffset is the fragment offset in bytes.
func (b IPv4) FragOffset() uint16 {
	return binary.BigEndian.Uint16(b[ipv4FlagsOff:]) & 0x1fff * 8
}

// Fragment tells whether the packet is whole, the first fragment or a later
// one.
func (b IPv4) Fragment() Fragment {
	switch {
	case b.FragOffset() != 0:
		return LaterFragment
	case b.MF():
		return FirstFragment
	}
	return NotFragment
}

// SetHeaderLen writes version 4 and the IHL for an n-byte header (a
// multiple of 4, 20..60).
func (b IPv4) SetHeaderLen(n int) { b[ipv4VerIHL] = 0x40 | uint8(n/4)&0x0f }

// SetFlags writes the 3 flag bits, keeping the fragment offset.
func (b IPv4) SetFlags(f uint8) { b[ipv4FlagsOff] = b[ipv4FlagsOff]&0x1f | f<<5 }

// SetFragOffset writes the fragment offset in bytes (a multiple of 8),
// keeping the flags.
func (b IPv4) SetFragOffset(off uint16) {
	w := binary.BigEndian.Uint16(b[ipv4FlagsOff:])&0xe000 | off/8&0x1fff
	binary.BigEndian.PutUint16(b[ipv4FlagsOff:], w)
}

// ComputeChecksum computes and stores the header checksum.
func (b IPv4) ComputeChecksum() {
	b.SetChecksum(0)
	b.SetChecksum(^Checksum(b[:b.HeaderLen()], 0))
}

// ChecksumValid reports whether the header checksum verifies.
func (b IPv4) ChecksumValid() bool { return Checksum(b[:b.HeaderLen()], 0) == 0xffff }

// Fragment classifies a packet for flow hashing: only a whole packet or a
// first fragment carries the transport header.
type Fragment uint8

const (
	NotFragment Fragment = iota
	FirstFragment
	LaterFragment
)

func (f Fragment) String() string {
	switch f {
	case NotFragment:
		return "none"
	case FirstFragment:
		return "first"
	case LaterFragment:
		return "later"
	}
	return "invalid"
}
