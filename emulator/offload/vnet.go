// Package offload turns the segmentation offloads of a TAP opened with a
// virtio-net header into ordinary packets and back, so that everything
// behind a port sees frames no longer than the link's MTU while the TAP
// moves up to 64 KB per system call:
//
//   - Segmenter splits a GSO super-frame the node's kernel handed over
//     (TSO for TCP over IPv4 and IPv6, USO for UDP) into the segments the
//     node would have sent without the offload: the same headers, IPv4
//     identifications counting up, TCP sequence numbers advancing, FIN and
//     PSH on the last segment only, CWR on the first only, and every
//     checksum computed.
//   - CompleteChecksum fills in a checksum the node left partial
//     (VIRTIO_NET_HDR_F_NEEDS_CSUM) on a frame that is not GSO.
//   - Coalescer finds, in a batch of frames written to a node, runs of
//     segments of one TCP flow that the node's kernel would have merged
//     itself (GRO) and describes each run as one GSO frame: a virtio-net
//     header and a copy of the first segment's headers, followed by the
//     payloads as they are, so a writev sends the run with no copy; with
//     Coalescer.UDP, runs of one flow's UDP datagrams likewise, as USO.
//
// Nothing here allocates per frame. The virtio-net header is in the host's
// byte order, as the TAP driver uses it unless told otherwise
// (TUNSETVNETLE/BE).
package offload

import (
	"encoding/binary"
	"errors"
)

// HdrLen is the size of struct virtio_net_hdr, the header a TAP with
// IFF_VNET_HDR puts before every frame (TUNSETVNETHDRSZ sets it to this).
const HdrLen = 10

// Header flags and GSO types (include/uapi/linux/virtio_net.h).
const (
	FlagNeedsCsum = 1 // the checksum at CsumStart+CsumOffset is partial
	FlagDataValid = 2 // the checksum was verified

	GSONone  = 0
	GSOTCPv4 = 1
	GSOUDP   = 3 // UDP fragmentation offload (UFO): never offered, refused
	GSOTCPv6 = 4
	GSOUDPL4 = 5 // UDP segmentation offload (USO)
	GSOECN   = 0x80
)

// Hdr is a virtio-net header.
type Hdr struct {
	Flags      uint8
	GSOType    uint8
	HdrLen     uint16 // length of the headers before the payload
	GSOSize    uint16 // payload bytes per segment
	CsumStart  uint16 // where the partial checksum's coverage starts
	CsumOffset uint16 // where, from CsumStart, the checksum field is
}

// ParseHdr reads a header from the first HdrLen bytes of b.
func ParseHdr(b []byte) Hdr {
	_ = b[HdrLen-1]
	e := binary.NativeEndian
	return Hdr{
		Flags: b[0], GSOType: b[1],
		HdrLen: e.Uint16(b[2:]), GSOSize: e.Uint16(b[4:]),
		CsumStart: e.Uint16(b[6:]), CsumOffset: e.Uint16(b[8:]),
	}
}

// Put writes h into the first HdrLen bytes of b.
func (h Hdr) Put(b []byte) {
	_ = b[HdrLen-1]
	e := binary.NativeEndian
	b[0], b[1] = h.Flags, h.GSOType
	e.PutUint16(b[2:], h.HdrLen)
	e.PutUint16(b[4:], h.GSOSize)
	e.PutUint16(b[6:], h.CsumStart)
	e.PutUint16(b[8:], h.CsumOffset)
}

// Errors for frames that cannot be split or completed; the port drops the
// frame and counts it.
var (
	ErrMalformed   = errors.New("offload: GSO frame does not match its virtio-net header")
	ErrUnsupported = errors.New("offload: GSO type not supported")
	ErrTooLong     = errors.New("offload: segment longer than the buffer")
)

const (
	ethTypeIPv4 = 0x0800
	ethTypeIPv6 = 0x86dd
	ethTypeVLAN = 0x8100
	protoTCP    = 6
	protoUDP    = 17
	tcpFIN      = 0x01
	tcpSYN      = 0x02
	tcpRST      = 0x04
	tcpPSH      = 0x08
	tcpACK      = 0x10
	tcpURG      = 0x20
	tcpECE      = 0x40
	tcpCWR      = 0x80
)

// l3Offset returns where the IP header of an Ethernet frame starts (after
// one optional 802.1Q tag) and its EtherType.
func l3Offset(f []byte) (int, uint16, bool) {
	if len(f) < 14 {
		return 0, 0, false
	}
	t := binary.BigEndian.Uint16(f[12:])
	if t != ethTypeVLAN {
		return 14, t, true
	}
	if len(f) < 18 {
		return 0, 0, false
	}
	return 18, binary.BigEndian.Uint16(f[16:]), true
}

// CompleteChecksum finishes the checksum of a frame whose header says
// FlagNeedsCsum and no GSO: the field at CsumStart+CsumOffset holds the
// pseudo-header sum, and the checksum over [CsumStart, end) with that
// field in place is what belongs there. A frame without the flag is left
// alone.
func CompleteChecksum(frame []byte, h Hdr) error {
	if h.Flags&FlagNeedsCsum == 0 {
		return nil
	}
	start, field := int(h.CsumStart), int(h.CsumStart)+int(h.CsumOffset)
	if field+2 > len(frame) || h.CsumOffset&1 != 0 {
		return ErrMalformed
	}
	c := ^checksum(frame[start:], 0)
	if c == 0 {
		c = 0xffff // as the kernel stores it (CSUM_MANGLED_0)
	}
	binary.BigEndian.PutUint16(frame[field:], c)
	return nil
}

// pseudoSum is the sum of the TCP/UDP pseudo-header of the IP packet at
// ip (version from its first nibble) for a transport segment of length n.
func pseudoSum(ip []byte, v6 bool, proto uint8, n int) uint16 {
	var s uint16
	if v6 {
		s = checksum(ip[8:40], 0)
	} else {
		s = checksum(ip[12:20], 0)
	}
	return fold(uint32(s) + uint32(proto) + uint32(n>>16) + uint32(n&0xffff))
}

func fold(s uint32) uint16 {
	s = s>>16 + s&0xffff
	s = s>>16 + s&0xffff
	return uint16(s)
}
