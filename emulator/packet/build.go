package packet

import (
	"encoding/binary"
	"net/netip"
)

// The Append builders make plain packets for tests, traffic generators and
// health checks. They append to b (allocating only when b is too small),
// pick IPv4 or IPv6 from the addresses, and compute every checksum.

// IPHeader is the network layer of a built packet.
type IPHeader struct {
	Src, Dst netip.Addr
	// TTL is the TTL or hop limit; 0 means 64.
	TTL uint8
	// TOS is the IPv4 type of service or the IPv6 traffic class.
	TOS uint8
	// ID is the IPv4 identification (unused for IPv6).
	ID uint16
	// DF sets IPv4 don't-fragment (unused for IPv6).
	DF bool
	// FlowLabel is the IPv6 flow label (unused for IPv4).
	FlowLabel uint32
}

// TCPHeader is the transport layer of a built TCP segment.
type TCPHeader struct {
	SrcPort, DstPort uint16
	Seq, Ack         uint32
	Flags            uint8
	Window           uint16
	Urgent           uint16
	// Options are copied as they are, then padded with zeros (End of Option
	// List) to a multiple of 4; at most 40 bytes.
	Options []byte
}

// MSSOption returns the 4 bytes of a Maximum Segment Size option.
func MSSOption(mss uint16) []byte {
	return []byte{tcpOptMSS, tcpOptMSSLen, byte(mss >> 8), byte(mss)}
}

// appendIP appends an IP header for a payload of n bytes of protocol proto
// and returns the packet and the offset of the header in it.
func appendIP(b []byte, h IPHeader, proto uint8, n int) ([]byte, int) {
	ttl := h.TTL
	if ttl == 0 {
		ttl = 64
	}
	start := len(b)
	if h.Src.Is4() {
		b, t := grow(b, IPv4Len)
		ip := IPv4(t)
		ip.SetHeaderLen(IPv4Len)
		ip.SetTOS(h.TOS)
		ip.SetTotalLen(uint16(IPv4Len + n))
		ip.SetID(h.ID)
		if h.DF {
			ip.SetFlags(IPv4FlagDF)
		}
		ip.SetTTL(ttl)
		ip.SetProtocol(proto)
		ip.SetSrc(h.Src)
		ip.SetDst(h.Dst)
		ip.ComputeChecksum()
		return b, start
	}
	b, t := grow(b, IPv6Len)
	ip := IPv6(t)
	ip.SetVersionClassLabel(h.TOS, h.FlowLabel)
	ip.SetPayloadLen(uint16(n))
	ip.SetNextHeader(proto)
	ip.SetHopLimit(ttl)
	ip.SetSrc(h.Src)
	ip.SetDst(h.Dst)
	return b, start
}

// AppendTCP appends an IPv4 or IPv6 packet carrying a TCP segment.
func AppendTCP(b []byte, h IPHeader, t TCPHeader, payload []byte) []byte {
	optLen := (len(t.Options) + 3) &^ 3
	hl := TCPLen + optLen
	b, _ = appendIP(b, h, ProtoTCP, hl+len(payload))
	seg := len(b)
	b, s := grow(b, hl)
	tcp := TCP(s)
	tcp.SetSrcPort(t.SrcPort)
	tcp.SetDstPort(t.DstPort)
	tcp.SetSeq(t.Seq)
	tcp.SetAck(t.Ack)
	tcp.SetDataOffset(hl)
	tcp.SetFlags(t.Flags)
	tcp.SetWindow(t.Window)
	tcp.SetUrgent(t.Urgent)
	copy(tcp[TCPLen:], t.Options)
	b = append(b, payload...)
	TCP(b[seg:]).ComputeChecksum(h.Src, h.Dst)
	return b
}

// AppendUDP appends an IPv4 or IPv6 packet carrying a UDP datagram.
func AppendUDP(b []byte, h IPHeader, srcPort, dstPort uint16, payload []byte) []byte {
	b, _ = appendIP(b, h, ProtoUDP, UDPLen+len(payload))
	seg := len(b)
	b, s := grow(b, UDPLen)
	u := UDP(s)
	u.SetSrcPort(srcPort)
	u.SetDstPort(dstPort)
	u.SetLength(uint16(UDPLen + len(payload)))
	b = append(b, payload...)
	UDP(b[seg:]).ComputeChecksum(h.Src, h.Dst)
	return b
}

// AppendICMPEcho appends an ICMP (IPv4) or ICMPv6 (IPv6) echo request, or
// reply when reply is set.
func AppendICMPEcho(b []byte, h IPHeader, reply bool, id, seq uint16, payload []byte) []byte {
	proto, typ := uint8(ProtoICMP), uint8(ICMPv4EchoRequest)
	switch {
	case h.Src.Is6() && reply:
		proto, typ = ProtoICMPv6, ICMPv6EchoReply
	case h.Src.Is6():
		proto, typ = ProtoICMPv6, ICMPv6EchoRequest
	case reply:
		typ = ICMPv4EchoReply
	}
	b, _ = appendIP(b, h, proto, ICMPLen+len(payload))
	msg := len(b)
	b, m := grow(b, ICMPLen)
	m[icmpType] = typ
	binary.BigEndian.PutUint16(m[icmpID:], id)
	binary.BigEndian.PutUint16(m[icmpSeq:], seq)
	b = append(b, payload...)
	if proto == ProtoICMPv6 {
		ICMPv6(b[msg:]).ComputeChecksum(h.Src, h.Dst)
	} else {
		ICMPv4(b[msg:]).ComputeChecksum()
	}
	return b
}

// AppendIP appends a packet of any protocol with the given payload, for
// 3-tuple protocols such as ESP or GRE. No transport checksum is touched.
func AppendIP(b []byte, h IPHeader, proto uint8, payload []byte) []byte {
	b, _ = appendIP(b, h, proto, len(payload))
	return append(b, payload...)
}

// AppendFrame appends an Ethernet header whose EtherType follows the IP
// version of ipPacket, then the packet.
func AppendFrame(b []byte, dst, src MAC, ipPacket []byte) []byte {
	t := uint16(EtherTypeIPv4)
	if len(ipPacket) > 0 && ipPacket[0]>>4 == 6 {
		t = EtherTypeIPv6
	}
	b = AppendEthernet(b, dst, src, t)
	return append(b, ipPacket...)
}
