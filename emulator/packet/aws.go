package packet

import (
	"encoding/binary"
	"fmt"
)

// The AWS GENEVE options (spec §2.3): class 0x0108, three options in this
// order on the wire, 32 bytes in all, none critical.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Option Class 0x0108      |   Type 0x01   |0 0 0|    2    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|            GWLB endpoint (vpce) id, 64-bit big-endian         |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Option Class 0x0108      |   Type 0x02   |0 0 0|    2    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|            attachment id, 64-bit big-endian (0 today)         |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Option Class 0x0108      |   Type 0x03   |0 0 0|    1    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      flow cookie, 32-bit                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
const (
	AWSOptionClass    = 0x0108
	AWSTypeEndpoint   = 0x01
	AWSTypeAttachment = 0x02
	AWSTypeCookie     = 0x03
	// AWSOptionsLen is the size of the three options on the wire.
	AWSOptionsLen = 3*GeneveOptionLen + 8 + 8 + 4
	// EncapLen is what Encap puts in front of the inner packet: Ethernet 14,
	// IPv4 20, UDP 8, GENEVE 8, options 32.
	EncapLen = EthernetLen + IPv4Len + UDPLen + GeneveLen + AWSOptionsLen
	// EncapOverhead is the IP-level overhead of GWLB encapsulation: 68
	// bytes (spec §2.3).
	EncapOverhead = EncapLen - EthernetLen
)

// AWSOptions are the values GWLB puts in its options.
type AWSOptions struct {
	// EndpointID is the hex part of the GWLB endpoint id ("vpce-" + 17 hex
	// digits) as a number.
	EndpointID uint64
	// AttachmentID is reserved for TGW/VPN/DX attachments; zero today.
	AttachmentID uint64
	// Cookie is GWLB's opaque per-flow value; the appliance must echo it.
	Cookie uint32
}

// EndpointName formats the endpoint id the way AWS and gwlbtun print it:
// "vpce-" and 17 hex digits. It allocates: for humans, not the data plane.
func (o AWSOptions) EndpointName() string { return fmt.Sprintf("vpce-%017x", o.EndpointID) }

// AWSOptions finds the three AWS options, in any order, among the header's
// options. Other non-critical options are ignored, as RFC 8926 §3.5 says.
// The first problem found wins: ErrGeneveOptions or ErrTruncated for a
// malformed option area, ErrCriticalOption for a critical option that is not
// one of the three, ErrAWSOptionLength, ErrAWSOptionDuplicate, and at the
// end ErrAWSOptionMissing. The values found so far are returned with the
// error.
func (g Geneve) AWSOptions() (AWSOptions, error) {
	var o AWSOptions
	var seen uint8
	it := g.Options()
	for it.Next() {
		opt := it.Option()
		typ := opt.Type()
		if opt.Class() != AWSOptionClass || typ < AWSTypeEndpoint || typ > AWSTypeCookie {
			if opt.Critical() {
				return o, ErrCriticalOption
			}
			continue
		}
		want := 8
		if typ == AWSTypeCookie {
			want = 4
		}
		if opt.DataLen() != want {
			return o, ErrAWSOptionLength
		}
		if seen&(1<<typ) != 0 {
			return o, ErrAWSOptionDuplicate
		}
		seen |= 1 << typ
		d := opt.Data()
		switch typ {
		case AWSTypeEndpoint:
			o.EndpointID = binary.BigEndian.Uint64(d)
		case AWSTypeAttachment:
			o.AttachmentID = binary.BigEndian.Uint64(d)
		case AWSTypeCookie:
			o.Cookie = binary.BigEndian.Uint32(d)
		}
	}
	if err := it.Err(); err != nil {
		return o, err
	}
	if seen != 1<<AWSTypeEndpoint|1<<AWSTypeAttachment|1<<AWSTypeCookie {
		return o, ErrAWSOptionMissing
	}
	return o, nil
}

// PutAWSOptions writes the three options in GWLB's order (types 1, 2, 3) at
// the start of b, which must hold AWSOptionsLen bytes.
func PutAWSOptions(b []byte, o AWSOptions) {
	_ = b[AWSOptionsLen-1]
	putOptHeader(b[0:], AWSTypeEndpoint, 2)
	binary.BigEndian.PutUint64(b[4:], o.EndpointID)
	putOptHeader(b[12:], AWSTypeAttachment, 2)
	binary.BigEndian.PutUint64(b[16:], o.AttachmentID)
	putOptHeader(b[24:], AWSTypeCookie, 1)
	binary.BigEndian.PutUint32(b[28:], o.Cookie)
}

func putOptHeader(b []byte, typ, words uint8) {
	binary.BigEndian.PutUint16(b, AWSOptionClass)
	b[2], b[3] = typ, words
}
