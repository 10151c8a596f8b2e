package packet

import (
	"encoding/binary"
	"fmt"
)

// MAC is an IEEE 802 MAC-48 address. A value type, so it compares with ==
// and copies without allocating.
type MAC [6]byte

func (m MAC) String() string {
	return fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
}

// IsBroadcast reports whether m is ff:ff:ff:ff:ff:ff.
func (m MAC) IsBroadcast() bool { return m == MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }

// Ethernet is a view of an Ethernet II frame (IEEE 802.3 §3.1.1; IP over
// Ethernet per RFC 894, ARP per RFC 826), optionally carrying one IEEE 802.1Q
// tag. There is no FCS: TAP devices and pcap files do not carry it.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination MAC address                    |
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               |                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                      Source MAC address                       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           EtherType           |  payload ...                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// With an 802.1Q tag the EtherType at offset 12 is 0x8100, followed by the
// tag control information (PCP 3 bits, DEI 1, VLAN id 12) and then the
// EtherType of the payload.
type Ethernet []byte

// Offsets and sizes of the Ethernet header.
const (
	ethDst      = 0
	ethSrc      = 6
	ethType     = 12
	EthernetLen = 14
	VLANTagLen  = 4
)

// EtherTypes used by the lab.
const (
	EtherTypeIPv4 = 0x0800
	EtherTypeARP  = 0x0806
	EtherTypeVLAN = 0x8100
	EtherTypeIPv6 = 0x86DD
)

// Validate checks that the header, and the 802.1Q tag when there is one,
// fits.
func (e Ethernet) Validate() error {
	if len(e) < EthernetLen {
		return ErrTruncated
	}
	if e.Type() == EtherTypeVLAN && len(e) < EthernetLen+VLANTagLen {
		return ErrTruncated
	}
	return nil
}

func (e Ethernet) Dst() MAC     { return MAC(e[ethDst:]) }
func (e Ethernet) Src() MAC     { return MAC(e[ethSrc:]) }
func (e Ethernet) Type() uint16 { return binary.BigEndian.Uint16(e[ethType:]) }

func (e Ethernet) SetDst(m MAC)     { copy(e[ethDst:], m[:]) }
func (e Ethernet) SetSrc(m MAC)     { copy(e[ethSrc:], m[:]) }
func (e Ethernet) SetType(t uint16) { binary.BigEndian.PutUint16(e[ethType:], t) }

// HeaderLen is 14, or 18 with an 802.1Q tag.
func (e Ethernet) HeaderLen() int {
	if e.Type() == EtherTypeVLAN {
		return EthernetLen + VLANTagLen
	}
	return EthernetLen
}

// PayloadType is the EtherType of the payload, looking past one 802.1Q tag.
func (e Ethernet) PayloadType() uint16 {
	if e.Type() == EtherTypeVLAN {
		return binary.BigEndian.Uint16(e[EthernetLen+2:])
	}
	return e.Type()
}

// VLAN returns the VLAN id of the 802.1Q tag, if there is one.
func (e Ethernet) VLAN() (id uint16, ok bool) {
	if e.Type() != EtherTypeVLAN {
		return 0, false
	}
	return binary.BigEndian.Uint16(e[EthernetLen:]) & 0x0fff, true
}

// Payload is everything after the header (and tag).
func (e Ethernet) Payload() []byte { return e[e.HeaderLen():] }

// AppendEthernet appends an untagged Ethernet header.
func AppendEthernet(b []byte, dst, src MAC, etherType uint16) []byte {
	b = append(b, dst[:]...)
	b = append(b, src[:]...)
	return binary.BigEndian.AppendUint16(b, etherType)
}
