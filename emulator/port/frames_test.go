package port

import (
	"encoding/binary"
	"net"
	"net/netip"
)

// Hand-built frames for the TAP specs. emulator/packet has the real codecs;
// these tests build bytes directly so they depend on nothing but the port.

const (
	etherARP  = 0x0806
	etherIPv4 = 0x0800
	etherTest = 0x88b5 // IEEE local experimental: the kernel ignores it
)

func ethernet(dst, src net.HardwareAddr, etherType uint16, payload []byte) []byte {
	f := make([]byte, 14, 14+len(payload))
	copy(f[0:6], dst)
	copy(f[6:12], src)
	binary.BigEndian.PutUint16(f[12:14], etherType)
	return append(f, payload...)
}

// arp returns an ARP payload (RFC 826) for IPv4 over Ethernet.
func arp(op uint16, senderMAC net.HardwareAddr, senderIP netip.Addr, targetMAC net.HardwareAddr, targetIP netip.Addr) []byte {
	b := make([]byte, 28)
	binary.BigEndian.PutUint16(b[0:2], 1)      // hardware: Ethernet
	binary.BigEndian.PutUint16(b[2:4], 0x0800) // protocol: IPv4
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:8], op)
	copy(b[8:14], senderMAC)
	s, t := senderIP.As4(), targetIP.As4()
	copy(b[14:18], s[:])
	copy(b[18:24], targetMAC)
	copy(b[24:28], t[:])
	return b
}

// arpOf returns the opcode, sender and target IP of an ARP frame, or ok
// false if f is not one.
func arpOf(f []byte) (op uint16, sender, target netip.Addr, senderMAC net.HardwareAddr, ok bool) {
	if len(f) < 14+28 || binary.BigEndian.Uint16(f[12:14]) != etherARP {
		return 0, netip.Addr{}, netip.Addr{}, nil, false
	}
	a := f[14:]
	return binary.BigEndian.Uint16(a[6:8]), netip.AddrFrom4([4]byte(a[14:18])), netip.AddrFrom4([4]byte(a[24:28])), net.HardwareAddr(a[8:14]), true
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// ipv4 returns an IPv4 packet (RFC 791) with a correct header checksum.
func ipv4(proto uint8, src, dst netip.Addr, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:4], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(h[4:6], 0x1234)
	h[8] = 64
	h[9] = proto
	s, d := src.As4(), dst.As4()
	copy(h[12:16], s[:])
	copy(h[16:20], d[:])
	binary.BigEndian.PutUint16(h[10:12], checksum(h))
	return append(h, payload...)
}

// icmpEcho returns an ICMP echo message (RFC 792) of the given type (8
// request, 0 reply).
func icmpEcho(typ uint8, id, seq uint16, data []byte) []byte {
	b := make([]byte, 8, 8+len(data))
	b[0] = typ
	binary.BigEndian.PutUint16(b[4:6], id)
	binary.BigEndian.PutUint16(b[6:8], seq)
	b = append(b, data...)
	binary.BigEndian.PutUint16(b[2:4], checksum(b))
	return b
}

// ipv4Of returns the protocol, addresses and payload of an IPv4 frame.
func ipv4Of(f []byte) (proto uint8, src, dst netip.Addr, payload []byte, ok bool) {
	if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:14]) != etherIPv4 {
		return 0, netip.Addr{}, netip.Addr{}, nil, false
	}
	ip := f[14:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:4]))
	if ihl < 20 || total < ihl || total > len(ip) {
		return 0, netip.Addr{}, netip.Addr{}, nil, false
	}
	return ip[9], netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20])), ip[ihl:total], true
}
