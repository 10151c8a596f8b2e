package packet

import (
	"encoding/binary"
	"net/netip"
)

// ICMPv4 is a view of an ICMP message (RFC 792). ICMPv6 (RFC 4443 §2.1)
// has the same first 8 bytes; only the checksum differs (ICMPv6 covers a
// pseudo-header). Echo request and reply (RFC 792 p.14, RFC 4443 §4.1)
// carry an identifier and a sequence number in the second word:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Type      |     Code      |          Checksum             |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Identifier          |        Sequence Number        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Data ...
//	+-+-+-+-+-
type ICMPv4 []byte

// ICMPv6 is a view of an ICMPv6 message; see ICMPv4 for the layout.
type ICMPv6 []byte

// Offsets, sizes and types of ICMP.
const (
	icmpType     = 0
	icmpCode     = 1
	icmpChecksum = 2
	icmpID       = 4
	icmpSeq      = 6
	ICMPLen      = 8

	ICMPv4EchoReply       = 0
	ICMPv4DestUnreach     = 3
	ICMPv4EchoRequest     = 8
	ICMPv4TimeExceeded    = 11
	ICMPv6DestUnreach     = 1
	ICMPv6PacketTooBig    = 2
	ICMPv6TimeExceeded    = 3
	ICMPv6EchoRequest     = 128
	ICMPv6EchoReply       = 129
	ICMPv6RouterSolicit   = 133
	ICMPv6RouterAdvert    = 134
	ICMPv6NeighborSolicit = 135
	ICMPv6NeighborAdvert  = 136
)

// Validate checks that the 8-byte header fits.
func (m ICMPv4) Validate() error {
	if len(m) < ICMPLen {
		return ErrTruncated
	}
	return nil
}

func (m ICMPv4) Type() uint8          { return m[icmpType] }
func (m ICMPv4) Code() uint8          { return m[icmpCode] }
func (m ICMPv4) Checksum() uint16     { return binary.BigEndian.Uint16(m[icmpChecksum:]) }
func (m ICMPv4) EchoID() uint16       { return binary.BigEndian.Uint16(m[icmpID:]) }
func (m ICMPv4) EchoSeq() uint16      { return binary.BigEndian.Uint16(m[icmpSeq:]) }
func (m ICMPv4) Payload() []byte      { return m[ICMPLen:] }
func (m ICMPv4) SetType(t uint8)      { m[icmpType] = t }
func (m ICMPv4) SetCode(c uint8)      { m[icmpCode] = c }
func (m ICMPv4) SetChecksum(c uint16) { binary.BigEndian.PutUint16(m[icmpChecksum:], c) }
func (m ICMPv4) SetEchoID(v uint16)   { binary.BigEndian.PutUint16(m[icmpID:], v) }
func (m ICMPv4) SetEchoSeq(v uint16)  { binary.BigEndian.PutUint16(m[icmpSeq:], v) }

// ComputeChecksum computes and stores the checksum over the whole message.
func (m ICMPv4) ComputeChecksum() {
	m.SetChecksum(0)
	m.SetChecksum(^Checksum(m, 0))
}

// ChecksumValid reports whether the checksum verifies.
func (m ICMPv4) ChecksumValid() bool { return Checksum(m, 0) == 0xffff }

// Validate checks that the 8-byte header fits.
func (m ICMPv6) Validate() error {
	if len(m) < ICMPLen {
		return ErrTruncated
	}
	return nil
}

func (m ICMPv6) Type() uint8          { return m[icmpType] }
func (m ICMPv6) Code() uint8          { return m[icmpCode] }
func (m ICMPv6) Checksum() uint16     { return binary.BigEndian.Uint16(m[icmpChecksum:]) }
func (m ICMPv6) EchoID() uint16       { return binary.BigEndian.Uint16(m[icmpID:]) }
func (m ICMPv6) EchoSeq() uint16      { return binary.BigEndian.Uint16(m[icmpSeq:]) }
func (m ICMPv6) Payload() []byte      { return m[ICMPLen:] }
func (m ICMPv6) SetType(t uint8)      { m[icmpType] = t }
func (m ICMPv6) SetCode(c uint8)      { m[icmpCode] = c }
func (m ICMPv6) SetChecksum(c uint16) { binary.BigEndian.PutUint16(m[icmpChecksum:], c) }
func (m ICMPv6) SetEchoID(v uint16)   { binary.BigEndian.PutUint16(m[icmpID:], v) }
func (m ICMPv6) SetEchoSeq(v uint16)  { binary.BigEndian.PutUint16(m[icmpSeq:], v) }

// ComputeChecksum computes and stores the checksum over the pseudo-header
// (RFC 4443 §2.3) and the whole message.
func (m ICMPv6) ComputeChecksum(src, dst netip.Addr) {
	m.SetChecksum(0)
	m.SetChecksum(TransportChecksum(ProtoICMPv6, src, dst, m))
}

// ChecksumValid reports whether the checksum verifies.
func (m ICMPv6) ChecksumValid(src, dst netip.Addr) bool {
	return TransportChecksum(ProtoICMPv6, src, dst, m) == 0
}
