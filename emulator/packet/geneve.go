package packet

import "encoding/binary"

// Geneve is a view of a GENEVE header with its options (RFC 8926 §3.4).
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|        Virtual Network Identifier (VNI)       |    Reserved   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	~                    Variable-Length Options                    ~
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Opt Len counts 4-byte words, so options take at most 63*4 = 252 bytes. O
// marks a control (OAM) packet, C says critical options are present. Each
// option (RFC 8926 §3.5) is a 4-byte header and 0..31 words of data (at
// most 124 bytes); the top bit of Type is the critical bit:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Option Class         |      Type     |R|R|R| Length  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	~                  Variable-Length Option Data                  ~
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// GWLB sends version 0, opt len 8, no flags, protocol 0x0800 or 0x86DD (an
// inner IP packet, no inner Ethernet), VNI 0 and the three AWS options
// (spec §2.2, §2.3; see AWSOptions).
type Geneve []byte

// Offsets, sizes and values of GENEVE.
const (
	genVerOptLen = 0
	genFlags     = 1
	genProto     = 2
	genVNI       = 4
	GeneveLen    = 8 // without options
	GenevePort   = 6081
	// GeneveMaxOptionsLen is the most Opt Len can express.
	GeneveMaxOptionsLen = 63 * 4
	// GeneveMaxOptionData is the most an option's Length can express.
	GeneveMaxOptionData = 31 * 4
	GeneveOptionLen     = 4 // option header

	genFlagO       = 0x80
	genFlagC       = 0x40
	genOptCritical = 0x80
	genOptLenMask  = 0x1f
)

// Validate checks the version and that the options fit in the slice and
// exactly fill Opt Len. The options themselves are not interpreted.
func (g Geneve) Validate() error {
	if len(g) < GeneveLen {
		return ErrTruncated
	}
	if g.Version() != 0 {
		return ErrGeneveVersion
	}
	if g.HeaderLen() > len(g) {
		return ErrTruncated
	}
	it := g.Options()
	for it.Next() {
	}
	return it.Err()
}

func (g Geneve) Version() uint8      { return g[genVerOptLen] >> 6 }
func (g Geneve) OptionsLen() int     { return int(g[genVerOptLen]&0x3f) * 4 }
func (g Geneve) HeaderLen() int      { return GeneveLen + g.OptionsLen() }
func (g Geneve) OAM() bool           { return g[genFlags]&genFlagO != 0 }
func (g Geneve) Critical() bool      { return g[genFlags]&genFlagC != 0 }
func (g Geneve) Protocol() uint16    { return binary.BigEndian.Uint16(g[genProto:]) }
func (g Geneve) VNI() uint32         { return binary.BigEndian.Uint32(g[genVNI:]) >> 8 }
func (g Geneve) OptionBytes() []byte { return g[GeneveLen:g.HeaderLen()] }
func (g Geneve) Payload() []byte     { return g[g.HeaderLen():] }

// SetVersion writes the 2-bit version, keeping Opt Len.
func (g Geneve) SetVersion(v uint8) { g[genVerOptLen] = v<<6 | g[genVerOptLen]&0x3f }

// SetOptionsLen writes Opt Len for n bytes of options (a multiple of 4, at
// most 252), keeping the version.
func (g Geneve) SetOptionsLen(n int) { g[genVerOptLen] = g[genVerOptLen]&0xc0 | uint8(n/4)&0x3f }

func (g Geneve) SetOAM(on bool)       { setBit(&g[genFlags], genFlagO, on) }
func (g Geneve) SetCritical(on bool)  { setBit(&g[genFlags], genFlagC, on) }
func (g Geneve) SetProtocol(p uint16) { binary.BigEndian.PutUint16(g[genProto:], p) }

// SetVNI writes the 24-bit VNI, keeping the reserved byte.
func (g Geneve) SetVNI(v uint32) {
	binary.BigEndian.PutUint32(g[genVNI:], v<<8|uint32(g[genVNI+3]))
}

func setBit(b *byte, mask byte, on bool) {
	if on {
		*b |= mask
	} else {
		*b &^= mask
	}
}

// Options returns an iterator over the options, bounded by Opt Len and by the
// slice. Safe on unvalidated bytes: problems surface as the iterator's Err,
// so AWSOptions is too.
func (g Geneve) Options() GeneveOptionIter {
	if len(g) < GeneveLen {
		return GeneveOptionIter{err: ErrTruncated}
	}
	end := min(g.HeaderLen(), len(g))
	it := GeneveOptionIter{rest: g[GeneveLen:end]}
	if end < g.HeaderLen() {
		it.err = ErrTruncated
	}
	return it
}

// GeneveOptionIter walks options without allocating:
//
//	it := g.Options()
//	for it.Next() {
//		opt := it.Option()
//	}
//	if err := it.Err(); err != nil { ... }
type GeneveOptionIter struct {
	rest []byte
	cur  GeneveOption
	err  error
}

// Next advances to the next option; false at the end or on a malformed one.
func (it *GeneveOptionIter) Next() bool {
	if it.err != nil || len(it.rest) == 0 {
		return false
	}
	if len(it.rest) < GeneveOptionLen {
		it.err = ErrGeneveOptions
		return false
	}
	n := GeneveOptionLen + int(it.rest[3]&genOptLenMask)*4
	if n > len(it.rest) {
		it.err = ErrGeneveOptions
		return false
	}
	it.cur, it.rest = GeneveOption(it.rest[:n:n]), it.rest[n:]
	return true
}

// Option is the current option; valid after Next returned true.
func (it *GeneveOptionIter) Option() GeneveOption { return it.cur }

// Err is ErrGeneveOptions when an option overran Opt Len, ErrTruncated when
// Opt Len overran the slice, or nil.
func (it *GeneveOptionIter) Err() error { return it.err }

// GeneveOption is a view of one option: its 4-byte header and its data.
type GeneveOption []byte

func (o GeneveOption) Class() uint16 { return binary.BigEndian.Uint16(o) }

// Type is the full type byte, critical bit included: type 0x81 is not 0x01.
func (o GeneveOption) Type() uint8    { return o[2] }
func (o GeneveOption) Critical() bool { return o[2]&genOptCritical != 0 }
func (o GeneveOption) DataLen() int   { return int(o[3]&genOptLenMask) * 4 }
func (o GeneveOption) Data() []byte   { return o[GeneveOptionLen : GeneveOptionLen+o.DataLen()] }

// PutGeneveOption writes an option at the start of b and returns its size.
// data must be a multiple of 4 bytes, at most 124; the R bits are written
// zero.
func PutGeneveOption(b []byte, class uint16, typ uint8, data []byte) (int, error) {
	if len(data)%4 != 0 || len(data) > GeneveMaxOptionData {
		return 0, ErrGeneveOptions
	}
	n := GeneveOptionLen + len(data)
	if len(b) < n {
		return 0, ErrShortBuffer
	}
	binary.BigEndian.PutUint16(b, class)
	b[2], b[3] = typ, uint8(len(data)/4)
	copy(b[GeneveOptionLen:], data)
	return n, nil
}

// PutGeneve writes a GENEVE base header (version 0, reserved bits zero) for
// optionsLen bytes of options (a multiple of 4, at most 252) at the start of
// b. The options follow at b[8:].
func PutGeneve(b []byte, optionsLen int, oam, critical bool, proto uint16, vni uint32) error {
	if optionsLen%4 != 0 || optionsLen < 0 || optionsLen > GeneveMaxOptionsLen {
		return ErrGeneveOptions
	}
	if len(b) < GeneveLen {
		return ErrShortBuffer
	}
	g := Geneve(b)
	g[genVerOptLen] = uint8(optionsLen / 4)
	g[genFlags] = 0
	g.SetOAM(oam)
	g.SetCritical(critical)
	g.SetProtocol(proto)
	binary.BigEndian.PutUint32(g[genVNI:], vni<<8)
	return nil
}
