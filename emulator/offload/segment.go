package offload

import (
	"encoding/binary"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

func checksum(b []byte, initial uint16) uint16 { return packet.Checksum(b, initial) }

// Segmenter splits one GSO super-frame into MTU-sized frames, one per Next
// call, as the node's kernel would have without the offload (its
// tcp_gso_segment and __udp_gso_segment): each segment carries the
// super-frame's Ethernet, IP and transport headers and GSOSize bytes of
// payload (the last one the rest). IPv4 identifications count up from the
// super-frame's, TCP sequence numbers advance by the payload sent, FIN and
// PSH stay on the last segment only and CWR on the first only, IP lengths
// and every checksum are recomputed. A Segmenter is reused from frame to
// frame and holds the frame between calls; it allocates nothing.
type Segmenter struct {
	frame   []byte
	l3, l4  int // offsets of the IP and transport headers
	hdrEnd  int // offset of the payload
	size    int // payload bytes per segment
	pos     int // offset of the next segment's payload
	i       int // index of the next segment
	v6, udp bool
	id      uint16 // IPv4 identification of the first segment
	seq     uint32 // TCP sequence number of the first segment
}

// Reset validates frame (an Ethernet frame read after h) as a GSO frame and
// makes it the one Next splits. It returns ErrUnsupported for GSO types
// other than TCPv4, TCPv6 and UDP_L4 and ErrMalformed for a frame whose
// headers do not agree with h.
func (s *Segmenter) Reset(frame []byte, h Hdr) error {
	*s = Segmenter{}
	gt := h.GSOType &^ GSOECN
	if gt != GSOTCPv4 && gt != GSOTCPv6 && gt != GSOUDPL4 {
		return ErrUnsupported
	}
	l3, et, ok := l3Offset(frame)
	if !ok || h.GSOSize == 0 {
		return ErrMalformed
	}
	var proto uint8
	l4 := 0
	switch et {
	case ethTypeIPv4:
		if gt == GSOTCPv6 || len(frame) < l3+20 || frame[l3]>>4 != 4 {
			return ErrMalformed
		}
		ihl := int(frame[l3]&0x0f) * 4
		if ihl < 20 || binary.BigEndian.Uint16(frame[l3+6:])&0x3fff != 0 { // MF or a fragment offset
			return ErrMalformed
		}
		proto, l4 = frame[l3+9], l3+ihl
	case ethTypeIPv6:
		if gt == GSOTCPv4 || len(frame) < l3+40 || frame[l3]>>4 != 6 {
			return ErrMalformed
		}
		var ok bool
		if proto, l4, ok = skipIPv6Ext(frame, l3); !ok {
			return ErrUnsupported
		}
	default:
		return ErrMalformed
	}
	var hdrEnd int
	switch {
	case gt == GSOUDPL4 && proto == protoUDP:
		hdrEnd = l4 + 8
	case gt != GSOUDPL4 && proto == protoTCP:
		if len(frame) < l4+20 {
			return ErrMalformed
		}
		hdrEnd = l4 + int(frame[l4+12]>>4)*4
		if hdrEnd < l4+20 {
			return ErrMalformed
		}
	default:
		return ErrMalformed
	}
	// The kernel marks every GSO frame NEEDS_CSUM at the transport header;
	// the checksum is computed here from scratch, so only the place matters.
	if h.Flags&FlagNeedsCsum != 0 && int(h.CsumStart) != l4 {
		return ErrMalformed
	}
	if len(frame) <= hdrEnd {
		return ErrMalformed
	}
	*s = Segmenter{
		frame: frame, l3: l3, l4: l4, hdrEnd: hdrEnd, size: int(h.GSOSize), pos: hdrEnd,
		v6: et == ethTypeIPv6, udp: proto == protoUDP,
	}
	if !s.v6 {
		s.id = binary.BigEndian.Uint16(frame[l3+4:])
	}
	if !s.udp {
		s.seq = binary.BigEndian.Uint32(frame[l4+4:])
	}
	return nil
}

// skipIPv6Ext walks the hop-by-hop and destination options headers after
// an IPv6 header and returns the upper-layer protocol and its offset. Any
// other extension (a routing header changes the pseudo-header, a fragment
// header cannot be segmented) is refused.
func skipIPv6Ext(f []byte, l3 int) (uint8, int, bool) {
	next, off := f[l3+6], l3+40
	for next == 0 || next == 60 {
		if len(f) < off+8 {
			return 0, 0, false
		}
		next, off = f[off], off+(int(f[off+1])+1)*8
	}
	return next, off, len(f) >= off
}

// Pending reports whether Next has segments left to give.
func (s *Segmenter) Pending() bool { return s.frame != nil && s.pos < len(s.frame) }

// SegmentLen is the length of the longest segment Next writes: what a
// destination buffer must hold.
func (s *Segmenter) SegmentLen() int { return s.hdrEnd + s.size }

// Next writes the next segment into dst and returns its length. It returns
// ErrTooLong, and stays at that segment, if dst cannot hold it.
func (s *Segmenter) Next(dst []byte) (int, error) {
	if !s.Pending() {
		return 0, nil
	}
	f := s.frame
	end := min(s.pos+s.size, len(f))
	n := s.hdrEnd + end - s.pos
	if n > len(dst) {
		return 0, ErrTooLong
	}
	first, last := s.i == 0, end == len(f)
	copy(dst, f[:s.hdrEnd])
	copy(dst[s.hdrEnd:n], f[s.pos:end])
	seg := dst[:n]
	l3, l4 := s.l3, s.l4
	if s.v6 {
		binary.BigEndian.PutUint16(seg[l3+4:], uint16(n-l3-40))
	} else {
		ip := seg[l3:l4]
		binary.BigEndian.PutUint16(ip[2:], uint16(n-l3))
		binary.BigEndian.PutUint16(ip[4:], s.id+uint16(s.i))
		ip[10], ip[11] = 0, 0
		binary.BigEndian.PutUint16(ip[10:], ^checksum(ip, 0))
	}
	var proto uint8 = protoTCP
	csumAt := l4 + 16
	if s.udp {
		proto, csumAt = protoUDP, l4+6
		binary.BigEndian.PutUint16(seg[l4+4:], uint16(n-l4))
	} else {
		binary.BigEndian.PutUint32(seg[l4+4:], s.seq+uint32(s.pos-s.hdrEnd))
		fl := seg[l4+13]
		if !last {
			fl &^= tcpFIN | tcpPSH
		}
		if !first {
			fl &^= tcpCWR
		}
		seg[l4+13] = fl
	}
	seg[csumAt], seg[csumAt+1] = 0, 0
	c := ^checksum(seg[l4:], pseudoSum(seg[l3:], s.v6, proto, n-l4))
	if c == 0 && s.udp {
		c = 0xffff // RFC 768: a computed zero is sent as all ones
	}
	binary.BigEndian.PutUint16(seg[csumAt:], c)
	s.pos = end
	s.i++
	return n, nil
}
