package packet

import (
	"encoding/binary"
	"net/netip"
)

// UDP is a view of a UDP datagram (RFC 768).
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|            Length             |           Checksum            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          data octets ...
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Length counts header and data. A zero checksum means "none" over IPv4; a
// computed zero is sent as 0xffff.
type UDP []byte

// Offsets and sizes of the UDP header.
const (
	udpSrcPort  = 0
	udpDstPort  = 2
	udpLength   = 4
	udpChecksum = 6
	UDPLen      = 8
)

// Validate checks that Length is at least 8 and fits in the slice.
func (u UDP) Validate() error {
	if len(u) < UDPLen {
		return ErrTruncated
	}
	l := int(u.Length())
	if l < UDPLen {
		return ErrHeaderLen
	}
	if l > len(u) {
		return ErrTruncated
	}
	return nil
}

func (u UDP) SrcPort() uint16      { return binary.BigEndian.Uint16(u[udpSrcPort:]) }
func (u UDP) DstPort() uint16      { return binary.BigEndian.Uint16(u[udpDstPort:]) }
func (u UDP) Length() uint16       { return binary.BigEndian.Uint16(u[udpLength:]) }
func (u UDP) Checksum() uint16     { return binary.BigEndian.Uint16(u[udpChecksum:]) }
func (u UDP) Payload() []byte      { return u[UDPLen:u.Length()] }
func (u UDP) SetSrcPort(p uint16)  { binary.BigEndian.PutUint16(u[udpSrcPort:], p) }
func (u UDP) SetDstPort(p uint16)  { binary.BigEndian.PutUint16(u[udpDstPort:], p) }
func (u UDP) SetLength(n uint16)   { binary.BigEndian.PutUint16(u[udpLength:], n) }
func (u UDP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(u[udpChecksum:], c) }

// ComputeChecksum computes and stores the checksum over the pseudo-header
// and the first Length bytes.
func (u UDP) ComputeChecksum(src, dst netip.Addr) {
	u.SetChecksum(0)
	c := TransportChecksum(ProtoUDP, src, dst, u[:u.Length()])
	if c == 0 {
		c = 0xffff
	}
	u.SetChecksum(c)
}

// ChecksumValid reports whether the checksum verifies; over IPv4 a zero
// checksum (none) is valid.
func (u UDP) ChecksumValid(src, dst netip.Addr) bool {
	if u.Checksum() == 0 && src.Is4() {
		return true
	}
	return TransportChecksum(ProtoUDP, src, dst, u[:u.Length()]) == 0
}
