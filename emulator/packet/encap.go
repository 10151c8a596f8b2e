package packet

import (
	"encoding/binary"
	"net/netip"
)

// EncapParams are the outer headers and option values of one GWLB
// encapsulation. A data plane keeps one per flow and reuses it.
type EncapParams struct {
	SrcMAC, DstMAC MAC
	// Src and Dst are the outer IPv4 addresses: the GWLB node's ENI and the
	// target (spec §2.1). GWLB never encapsulates in IPv6.
	Src, Dst netip.Addr
	// SrcPort is the per-flow UDP source port; the destination is 6081.
	SrcPort uint16
	TTL     uint8
	DF      bool
	// ID is the outer IPv4 identification (may stay 0 with DF, RFC 6864).
	ID uint16
	// UDPChecksum computes the outer UDP checksum over the whole packet;
	// otherwise it is 0, which RFC 8926 §3.2 allows over IPv4.
	UDPChecksum bool
	// Options are the values of the AWS options.
	Options AWSOptions
}

// Encap writes Ethernet, IPv4, UDP, GENEVE and the AWS options (EncapLen =
// 82 bytes) in front of the inner IP packet at buf[off:off+n], in place, and
// returns the offset where the frame starts; the frame is buf[start:off+n].
// The GENEVE protocol type follows the inner version nibble; VNI is 0 and
// Opt Len 8, as GWLB sends (spec §2.2). It never allocates.
func Encap(buf []byte, off, n int, p *EncapParams) (start int, err error) {
	if off < EncapLen {
		return 0, ErrHeadroom
	}
	if n < 1 || off+n > len(buf) {
		return 0, ErrTruncated
	}
	if !p.Src.Is4() || !p.Dst.Is4() {
		return 0, ErrNotIPv4
	}
	var proto uint16
	switch buf[off] >> 4 {
	case 4:
		proto = EtherTypeIPv4
	case 6:
		proto = EtherTypeIPv6
	default:
		return 0, ErrInnerVersion
	}
	ipLen := EncapOverhead + n
	if ipLen > 0xffff {
		return 0, ErrTooBig
	}
	start = off - EncapLen
	f := buf[start : off+n]

	e := Ethernet(f)
	e.SetDst(p.DstMAC)
	e.SetSrc(p.SrcMAC)
	e.SetType(EtherTypeIPv4)

	ip := IPv4(f[EthernetLen:])
	ip.SetHeaderLen(IPv4Len)
	ip.SetTOS(0)
	ip.SetTotalLen(uint16(ipLen))
	ip.SetID(p.ID)
	binary.BigEndian.PutUint16(ip[ipv4FlagsOff:], 0)
	if p.DF {
		ip.SetFlags(IPv4FlagDF)
	}
	ip.SetTTL(p.TTL)
	ip.SetProtocol(ProtoUDP)
	ip.SetSrc(p.Src)
	ip.SetDst(p.Dst)
	ip.ComputeChecksum()

	u := UDP(ip[IPv4Len:ipLen])
	u.SetSrcPort(p.SrcPort)
	u.SetDstPort(GenevePort)
	u.SetLength(uint16(ipLen - IPv4Len))
	u.SetChecksum(0)

	g := u[UDPLen:]
	binary.BigEndian.PutUint32(g, uint32(AWSOptionsLen/4)<<24|uint32(proto))
	binary.BigEndian.PutUint32(g[genVNI:], 0)
	PutAWSOptions(g[GeneveLen:], p.Options)

	if p.UDPChecksum {
		u.ComputeChecksum(p.Src, p.Dst)
	}
	return start, nil
}

// Decapped holds views into a decapsulated frame.
type Decapped struct {
	Ethernet Ethernet
	Outer    IPv4 // bounded by Total Length
	UDP      UDP  // bounded by the UDP length
	// Geneve is the GENEVE header and options only, ready to be copied back
	// byte for byte (spec §2.4).
	Geneve Geneve
	// Options are the AWS option values.
	Options AWSOptions
	// Inner is the inner IP packet.
	Inner []byte
}

// Decap validates a GENEVE frame as GWLB and appliances exchange it —
// Ethernet (one 802.1Q tag allowed), IPv4 with a correct header checksum and
// not fragmented, UDP to port 6081, GENEVE version 0 with well-formed
// options, protocol type 0x0800 or 0x86DD matching the inner version — and
// returns views into it. The UDP checksum is not checked: it may be zero
// and, over veth with offload, unfinished (spec §12). The VNI, the O bit and
// the outer addresses are left to the caller.
//
// The AWS options are parsed last: when only they are wrong, every view is
// filled in and the error is one of AWSOptions', so a tolerant caller can
// still forward the packet. It never allocates.
func Decap(frame []byte) (d Decapped, err error) {
	e := Ethernet(frame)
	if err := e.Validate(); err != nil {
		return d, err
	}
	if e.PayloadType() != EtherTypeIPv4 {
		return d, ErrNotIPv4
	}
	hl := e.HeaderLen()
	ip := IPv4(frame[hl:])
	if err := ip.Validate(); err != nil {
		return d, err
	}
	if !ip.ChecksumValid() {
		return d, ErrChecksum
	}
	if ip.Fragment() != NotFragment {
		return d, ErrFragment
	}
	if ip.Protocol() != ProtoUDP {
		return d, ErrNotGeneve
	}
	u := UDP(ip.Payload())
	if err := u.Validate(); err != nil {
		return d, err
	}
	if u.DstPort() != GenevePort {
		return d, ErrNotGeneve
	}
	g := Geneve(u.Payload())
	if err := g.Validate(); err != nil {
		return d, err
	}
	inner := g.Payload()
	var version byte
	switch g.Protocol() {
	case EtherTypeIPv4:
		version = 4
	case EtherTypeIPv6:
		version = 6
	default:
		return d, ErrGeneveProtocol
	}
	if len(inner) == 0 || inner[0]>>4 != version {
		return d, ErrInnerVersion
	}
	ghl := g.HeaderLen()
	d = Decapped{
		Ethernet: e[:hl:hl],
		Outer:    ip[:ip.TotalLen()],
		UDP:      u[:u.Length()],
		Geneve:   g[:ghl:ghl],
		Inner:    inner,
	}
	d.Options, err = d.Geneve.AWSOptions()
	return d, err
}
