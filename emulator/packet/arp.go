package packet

import (
	"encoding/binary"
	"net/netip"
)

// ARP is a view of an ARP packet for IPv4 over Ethernet (RFC 826), the only
// kind the lab's subnet routers answer.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|    Hardware Type (1)          |    Protocol Type (0x0800)     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  HLen (6)     |  PLen (4)     |          Operation            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                Sender Hardware Address (6 bytes)              |
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               | Sender Protocol Address (4)   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                               |                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                Target Hardware Address (6 bytes)              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                Target Protocol Address (4 bytes)              |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
type ARP []byte

// Offsets, sizes and operations of ARP.
const (
	arpHType   = 0
	arpPType   = 2
	arpHLen    = 4
	arpPLen    = 5
	arpOp      = 6
	arpSHA     = 8
	arpSPA     = 14
	arpTHA     = 18
	arpTPA     = 24
	ARPLen     = 28
	ARPRequest = 1
	ARPReply   = 2
)

// Validate checks the length and that this is IPv4 over Ethernet.
func (a ARP) Validate() error {
	if len(a) < ARPLen {
		return ErrTruncated
	}
	if binary.BigEndian.Uint16(a[arpHType:]) != 1 || binary.BigEndian.Uint16(a[arpPType:]) != EtherTypeIPv4 ||
		a[arpHLen] != 6 || a[arpPLen] != 4 {
		return ErrARPFormat
	}
	return nil
}

func (a ARP) Op() uint16                { return binary.BigEndian.Uint16(a[arpOp:]) }
func (a ARP) SenderMAC() MAC            { return MAC(a[arpSHA:]) }
func (a ARP) SenderIP() netip.Addr      { return netip.AddrFrom4([4]byte(a[arpSPA:])) }
func (a ARP) TargetMAC() MAC            { return MAC(a[arpTHA:]) }
func (a ARP) TargetIP() netip.Addr      { return netip.AddrFrom4([4]byte(a[arpTPA:])) }
func (a ARP) SetOp(op uint16)           { binary.BigEndian.PutUint16(a[arpOp:], op) }
func (a ARP) SetSenderMAC(m MAC)        { copy(a[arpSHA:], m[:]) }
func (a ARP) SetSenderIP(ip netip.Addr) { put4(a[arpSPA:], ip) }
func (a ARP) SetTargetMAC(m MAC)        { copy(a[arpTHA:], m[:]) }
func (a ARP) SetTargetIP(ip netip.Addr) { put4(a[arpTPA:], ip) }

// put4 writes an IPv4 address; like netip.Addr.As4 it panics on IPv6.
func put4(b []byte, ip netip.Addr) {
	a := ip.As4()
	copy(b, a[:])
}

// AppendARP appends a 28-byte ARP packet for IPv4 over Ethernet.
func AppendARP(b []byte, op uint16, senderMAC MAC, senderIP netip.Addr, targetMAC MAC, targetIP netip.Addr) []byte {
	b, a := grow(b, ARPLen)
	binary.BigEndian.PutUint16(a[arpHType:], 1)
	binary.BigEndian.PutUint16(a[arpPType:], EtherTypeIPv4)
	a[arpHLen], a[arpPLen] = 6, 4
	v := ARP(a)
	v.SetOp(op)
	v.SetSenderMAC(senderMAC)
	v.SetSenderIP(senderIP)
	v.SetTargetMAC(targetMAC)
	v.SetTargetIP(targetIP)
	return b
}

// AppendARPRequest appends a broadcast Ethernet frame asking who has
// targetIP (42 bytes; not padded to the 60-byte minimum, which TAP devices
// do not need).
func AppendARPRequest(b []byte, srcMAC MAC, srcIP, targetIP netip.Addr) []byte {
	b = AppendEthernet(b, MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, srcMAC, EtherTypeARP)
	return AppendARP(b, ARPRequest, srcMAC, srcIP, MAC{}, targetIP)
}

// AppendARPReply appends a unicast Ethernet frame telling dstMAC/dstIP that
// srcIP is at srcMAC.
func AppendARPReply(b []byte, srcMAC MAC, srcIP netip.Addr, dstMAC MAC, dstIP netip.Addr) []byte {
	b = AppendEthernet(b, dstMAC, srcMAC, EtherTypeARP)
	return AppendARP(b, ARPReply, srcMAC, srcIP, dstMAC, dstIP)
}

// grow extends b by n zero bytes and returns the whole and the new tail.
// It allocates only when cap(b) is too small.
func grow(b []byte, n int) (whole, tail []byte) {
	l := len(b)
	if cap(b)-l < n {
		nb := make([]byte, l, 2*cap(b)+n)
		copy(nb, b)
		b = nb
	}
	b = b[:l+n]
	clear(b[l:])
	return b, b[l:]
}
