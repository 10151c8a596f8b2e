package pcap

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// File header (24 bytes) and record header (16 bytes), all fields in the
// byte order announced by the magic number:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                 Magic Number (0xa1b2c3d4 / 0xa1b23c4d)        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     Major Version (2)         |      Minor Version (4)        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                   Reserved1 (thiszone)                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                   Reserved2 (sigfigs)                         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        SnapLen                                |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        LinkType                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                      Timestamp (seconds)                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|            Timestamp (microseconds or nanoseconds)            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Captured Packet Length                     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Original Packet Length                     |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Packet Data ...                         |
const (
	magicMicro      = 0xa1b2c3d4
	magicNano       = 0xa1b23c4d
	fileHeaderLen   = 24
	recordHeaderLen = 16
	// LinkTypeEthernet is LINKTYPE_ETHERNET: frames start with an Ethernet
	// header.
	LinkTypeEthernet = 1
	// SnapLen is the snapshot length the writer announces; it never cuts
	// frames (the lab's largest frame is 8500 + 82 bytes).
	SnapLen = 262144
)

// ErrFormat is returned for a file that is not a classic pcap file or is
// damaged.
var ErrFormat = errors.New("pcap: bad file format")

// Writer writes a pcap file of Ethernet frames. It is not safe for
// concurrent use.
type Writer struct {
	w   io.Writer
	hdr [recordHeaderLen]byte
}

// NewWriter writes the file header to w.
func NewWriter(w io.Writer) (*Writer, error) {
	var h [fileHeaderLen]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], magicMicro)
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], SnapLen)
	le.PutUint32(h[20:], LinkTypeEthernet)
	if _, err := w.Write(h[:]); err != nil {
		return nil, fmt.Errorf("pcap: write file header: %w", err)
	}
	return &Writer{w: w}, nil
}

// WritePacket appends one frame captured at ts.
func (w *Writer) WritePacket(ts time.Time, frame []byte) error {
	if len(frame) > SnapLen {
		return fmt.Errorf("pcap: frame of %d bytes exceeds the snapshot length %d", len(frame), SnapLen)
	}
	le := binary.LittleEndian
	le.PutUint32(w.hdr[0:], uint32(ts.Unix()))
	le.PutUint32(w.hdr[4:], uint32(ts.Nanosecond()/1000))
	le.PutUint32(w.hdr[8:], uint32(len(frame)))
	le.PutUint32(w.hdr[12:], uint32(len(frame)))
	if _, err := w.w.Write(w.hdr[:]); err != nil {
		return fmt.Errorf("pcap: write record header: %w", err)
	}
	if _, err := w.w.Write(frame); err != nil {
		return fmt.Errorf("pcap: write frame: %w", err)
	}
	return nil
}

// Packet is one record of a pcap file.
type Packet struct {
	Time time.Time
	// Data is the captured bytes; OrigLen the length on the wire, larger
	// when the capture cut the frame.
	Data    []byte
	OrigLen int
}

// Reader reads a pcap file record by record.
type Reader struct {
	r        io.Reader
	order    binary.ByteOrder
	nano     bool
	snapLen  uint32
	linkType uint32
	hdr      [recordHeaderLen]byte
}

// NewReader reads and checks the file header.
func NewReader(r io.Reader) (*Reader, error) {
	var h [fileHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("pcap: read file header: %w", err)
	}
	rd := &Reader{r: r}
	switch {
	case binary.LittleEndian.Uint32(h[:]) == magicMicro:
		rd.order = binary.LittleEndian
	case binary.BigEndian.Uint32(h[:]) == magicMicro:
		rd.order = binary.BigEndian
	case binary.LittleEndian.Uint32(h[:]) == magicNano:
		rd.order, rd.nano = binary.LittleEndian, true
	case binary.BigEndian.Uint32(h[:]) == magicNano:
		rd.order, rd.nano = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("%w: magic %#x", ErrFormat, h[:4])
	}
	if major := rd.order.Uint16(h[4:]); major != 2 {
		return nil, fmt.Errorf("%w: version %d", ErrFormat, major)
	}
	rd.snapLen = rd.order.Uint32(h[16:])
	// The upper bits of the link type field carry FCS information.
	rd.linkType = rd.order.Uint32(h[20:]) & 0x0fffffff
	return rd, nil
}

// LinkType is the file's link-layer header type (1 for Ethernet).
func (r *Reader) LinkType() uint32 { return r.linkType }

// Next reads the next record; io.EOF after the last one.
func (r *Reader) Next() (Packet, error) {
	if _, err := io.ReadFull(r.r, r.hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return Packet{}, fmt.Errorf("%w: truncated record header", ErrFormat)
		}
		return Packet{}, err
	}
	sec, frac := r.order.Uint32(r.hdr[0:]), r.order.Uint32(r.hdr[4:])
	capLen, origLen := r.order.Uint32(r.hdr[8:]), r.order.Uint32(r.hdr[12:])
	if capLen > max(r.snapLen, SnapLen) {
		return Packet{}, fmt.Errorf("%w: record of %d bytes", ErrFormat, capLen)
	}
	if !r.nano {
		frac *= 1000
	}
	p := Packet{Time: time.Unix(int64(sec), int64(frac)), Data: make([]byte, capLen), OrigLen: int(origLen)}
	if _, err := io.ReadFull(r.r, p.Data); err != nil {
		return Packet{}, fmt.Errorf("%w: truncated record: %v", ErrFormat, err)
	}
	return p, nil
}
