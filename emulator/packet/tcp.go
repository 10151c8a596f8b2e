package packet

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// TCP is a view of a TCP segment (RFC 9293 §3.1): header, options, data.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Acknowledgment Number                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Data |       |C|E|U|A|P|R|S|F|                               |
//	| Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//	|       |       |R|E|G|K|H|T|N|N|                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Checksum            |         Urgent Pointer        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           [Options]                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Data Offset counts 32-bit words (5..15). Options (§3.2) are a kind byte,
// and for kinds other than End of Option List (0) and No-Operation (1) a
// length byte covering kind and length. Maximum Segment Size is kind 2,
// length 4, a 16-bit value:
//
//	+--------+--------+---------+--------+
//	|00000010|00000100|   max seg size   |
//	+--------+--------+---------+--------+
//
// The slice must be exactly the segment (the IP payload): the checksum and
// Payload use its length.
type TCP []byte

// Offsets and sizes of the TCP header.
const (
	tcpSrcPort  = 0
	tcpDstPort  = 2
	tcpSeq      = 4
	tcpAck      = 8
	tcpDataOff  = 12
	tcpFlags    = 13
	tcpWindow   = 14
	tcpChecksum = 16
	tcpUrgent   = 18
	TCPLen      = 20 // without options
	TCPMaxLen   = 60

	tcpOptEOL    = 0
	tcpOptNOP    = 1
	tcpOptMSS    = 2
	tcpOptMSSLen = 4
)

// TCP flags as returned by Flags.
const (
	TCPFlagFIN = 1 << iota
	TCPFlagSYN
	TCPFlagRST
	TCPFlagPSH
	TCPFlagACK
	TCPFlagURG
	TCPFlagECE
	TCPFlagCWR
)

// Validate checks that the header and its options fit.
func (t TCP) Validate() error {
	if len(t) < TCPLen {
		return ErrTruncated
	}
	off := t.DataOffset()
	if off < TCPLen {
		return ErrHeaderLen
	}
	if off > len(t) {
		return ErrTruncated
	}
	return nil
}

func (t TCP) SrcPort() uint16      { return binary.BigEndian.Uint16(t[tcpSrcPort:]) }
func (t TCP) DstPort() uint16      { return binary.BigEndian.Uint16(t[tcpDstPort:]) }
func (t TCP) Seq() uint32          { return binary.BigEndian.Uint32(t[tcpSeq:]) }
func (t TCP) Ack() uint32          { return binary.BigEndian.Uint32(t[tcpAck:]) }
func (t TCP) DataOffset() int      { return int(t[tcpDataOff]>>4) * 4 }
func (t TCP) Flags() uint8         { return t[tcpFlags] }
func (t TCP) Window() uint16       { return binary.BigEndian.Uint16(t[tcpWindow:]) }
func (t TCP) Checksum() uint16     { return binary.BigEndian.Uint16(t[tcpChecksum:]) }
func (t TCP) Urgent() uint16       { return binary.BigEndian.Uint16(t[tcpUrgent:]) }
func (t TCP) Options() []byte      { return t[TCPLen:t.DataOffset()] }
func (t TCP) Payload() []byte      { return t[t.DataOffset():] }
func (t TCP) SetSrcPort(p uint16)  { binary.BigEndian.PutUint16(t[tcpSrcPort:], p) }
func (t TCP) SetDstPort(p uint16)  { binary.BigEndian.PutUint16(t[tcpDstPort:], p) }
func (t TCP) SetSeq(v uint32)      { binary.BigEndian.PutUint32(t[tcpSeq:], v) }
func (t TCP) SetAck(v uint32)      { binary.BigEndian.PutUint32(t[tcpAck:], v) }
func (t TCP) SetFlags(f uint8)     { t[tcpFlags] = f }
func (t TCP) SetWindow(w uint16)   { binary.BigEndian.PutUint16(t[tcpWindow:], w) }
func (t TCP) SetChecksum(c uint16) { binary.BigEndian.PutUint16(t[tcpChecksum:], c) }
func (t TCP) SetUrgent(u uint16)   { binary.BigEndian.PutUint16(t[tcpUrgent:], u) }

// SetDataOffset writes the header length in bytes (a multiple of 4,
// 20..60), keeping the reserved bits.
func (t TCP) SetDataOffset(n int) { t[tcpDataOff] = uint8(n/4)<<4 | t[tcpDataOff]&0x0f }

// ComputeChecksum computes and stores the checksum over the pseudo-header
// and the whole segment.
func (t TCP) ComputeChecksum(src, dst netip.Addr) {
	t.SetChecksum(0)
	t.SetChecksum(TransportChecksum(ProtoTCP, src, dst, t))
}

// ChecksumValid reports whether the checksum verifies.
func (t TCP) ChecksumValid(src, dst netip.Addr) bool {
	return TransportChecksum(ProtoTCP, src, dst, t) == 0
}

// mssOffset returns the offset in t of the MSS option's value, or -1. A
// malformed option list ends the search: nothing after it can be trusted.
// It checks its bounds itself, so MSS and ClampMSS are safe on garbage.
func (t TCP) mssOffset() int {
	if len(t) < TCPLen {
		return -1
	}
	end := t.DataOffset()
	if end < TCPLen || end > len(t) {
		return -1
	}
	for i := TCPLen; i < end; {
		switch t[i] {
		case tcpOptEOL:
			return -1
		case tcpOptNOP:
			i++
			continue
		}
		if i+1 >= end {
			return -1
		}
		n := int(t[i+1])
		if n < 2 || i+n > end {
			return -1
		}
		if t[i] == tcpOptMSS && n == tcpOptMSSLen {
			return i + 2
		}
		i += n
	}
	return -1
}

// MSS returns the value of the Maximum Segment Size option, if present.
func (t TCP) MSS() (mss uint16, ok bool) {
	o := t.mssOffset()
	if o < 0 {
		return 0, false
	}
	return binary.BigEndian.Uint16(t[o:]), true
}

// ClampMSS lowers the MSS option to max if it is larger, fixing the checksum
// incrementally (RFC 1624), as VPC endpoints do (spec §5). It reports
// whether it changed the segment. MSS options normally ride on SYNs only;
// the caller decides which segments to clamp.
func (t TCP) ClampMSS(max uint16) (changed bool) {
	o := t.mssOffset()
	if o < 0 {
		return false
	}
	old := binary.BigEndian.Uint16(t[o:])
	if old <= max {
		return false
	}
	binary.BigEndian.PutUint16(t[o:], max)
	// After a lone NOP the value sits at an odd offset, straddling two
	// checksum words; its bytes then count swapped (RFC 1071 §2 (B)).
	ov, nv := old, max
	if o%2 == 1 {
		ov, nv = bits.ReverseBytes16(ov), bits.ReverseBytes16(nv)
	}
	t.SetChecksum(ChecksumAdjust16(t.Checksum(), ov, nv))
	return true
}
