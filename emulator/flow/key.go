package flow

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// IP protocol numbers the flow key treats specially.
const (
	ProtoTCP = 6
	ProtoUDP = 17
)

// Mode is a target group's stickiness: which fields of a packet name its
// flow (spec §3.1).
type Mode uint8

const (
	// FiveTuple, the default (stickiness off): source and destination
	// address and port and protocol for TCP and UDP; source, destination
	// and protocol for every other protocol.
	FiveTuple Mode = iota
	// ThreeTuple (source_ip_dest_ip_proto): addresses and protocol.
	ThreeTuple
	// TwoTuple (source_ip_dest_ip): addresses only.
	TwoTuple
)

func (m Mode) String() string {
	switch m {
	case FiveTuple:
		return "5-tuple"
	case ThreeTuple:
		return "3-tuple"
	case TwoTuple:
		return "2-tuple"
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// Dir is a packet's direction relative to the packet that created its flow.
type Dir uint8

const (
	Original Dir = iota // from the flow's initiator
	Reply               // towards the flow's initiator
)

func (d Dir) String() string {
	if d == Original {
		return "original"
	}
	return "reply"
}

// Key is a flow key normalised for a stickiness mode: the fields the mode
// ignores are zero, and the two endpoints are in canonical order (the
// smaller address and port first), so a packet and its reply have the same
// Key. It is comparable and holds no pointers.
type Key struct {
	aHi, aLo, bHi, bLo uint64 // endpoint addresses, as 16-byte big-endian pairs
	aPort, bPort       uint16
	proto              uint8
	v6                 bool // tells 1.2.3.4 from ::ffff:1.2.3.4
}

// A returns the canonical first endpoint of k.
func (k Key) A() netip.AddrPort { return endpoint(k.aHi, k.aLo, k.aPort, k.v6) }

// B returns the canonical second endpoint of k.
func (k Key) B() netip.AddrPort { return endpoint(k.bHi, k.bLo, k.bPort, k.v6) }

// Proto returns k's protocol, zero in 2-tuple mode.
func (k Key) Proto() uint8 { return k.proto }

func (k Key) String() string { return fmt.Sprintf("%s<->%s/%d", k.A(), k.B(), k.proto) }

func endpoint(hi, lo uint64, port uint16, v6 bool) netip.AddrPort {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	a := netip.AddrFrom16(b)
	if !v6 {
		a = a.Unmap()
	}
	return netip.AddrPortFrom(a, port)
}

// Normalize returns the key of fk's flow under mode m, and whether fk runs
// from the canonical second endpoint to the first (swapped). A packet and
// its reply get the same Key and opposite swapped values, except when both
// endpoints are equal, where swapped is always false. Src and Dst must be of
// one address family; zones are ignored.
func Normalize(fk packet.FlowKey, m Mode) (k Key, swapped bool) {
	sp, dp, proto := fk.SrcPort, fk.DstPort, fk.Proto
	switch m {
	case FiveTuple:
		if proto != ProtoTCP && proto != ProtoUDP {
			sp, dp = 0, 0
		}
	case ThreeTuple:
		sp, dp = 0, 0
	default:
		sp, dp, proto = 0, 0, 0
	}
	s, d := fk.Src.As16(), fk.Dst.As16()
	sHi, sLo := binary.BigEndian.Uint64(s[:8]), binary.BigEndian.Uint64(s[8:])
	dHi, dLo := binary.BigEndian.Uint64(d[:8]), binary.BigEndian.Uint64(d[8:])
	swapped = sHi > dHi || (sHi == dHi && (sLo > dLo || (sLo == dLo && sp > dp)))
	if swapped {
		sHi, sLo, sp, dHi, dLo, dp = dHi, dLo, dp, sHi, sLo, sp
	}
	return Key{aHi: sHi, aLo: sLo, bHi: dHi, bLo: dLo, aPort: sp, bPort: dp, proto: proto, v6: !fk.Src.Is4()}, swapped
}

// Hash returns a seeded 64-bit hash of k. Because k is already in canonical
// order, the hash is the same for both directions of a flow. It is
// deterministic for a given seed (across runs and machines), so a lab
// replays the same target choices; AWS does not publish its hash, and any
// deterministic symmetric one is faithful (spec §3.4).
//
// Selection should use the low bits (h % n); [OuterPort] uses the top bits,
// so the two stay independent.
func (k Key) Hash(seed uint64) uint64 {
	last := uint64(k.aPort)<<32 | uint64(k.bPort)<<16 | uint64(k.proto)<<8
	if k.v6 {
		last |= 1
	}
	// wyhash-style: three independent 64x64->128 multiplies (they run in
	// parallel), folded by a fourth. The constants keep a zero word (the
	// top half of every IPv4 address) from zeroing a product.
	h1 := mum(k.aHi^seed^0xa0761d6478bd642f, k.aLo^0xe7037ed1a0b428db)
	h2 := mum(k.bHi^seed^0x8ebc6af09c88c6e3, k.bLo^0x589965cc75374cc3)
	h3 := mum(last^seed^0x1d8e4e27c47d124f, seed^0xa0761d6478bd642f)
	return mum(h1^h2^0xe7037ed1a0b428db, h3^0x8ebc6af09c88c6e3)
}

// mum multiplies x by y and folds the 128-bit product into 64 bits, so
// every input bit can reach every output bit.
func mum(x, y uint64) uint64 {
	hi, lo := bits.Mul64(x, y)
	return hi ^ lo
}

// Outer source ports of the GENEVE packets a GWLB node sends: the ephemeral
// range, so the top 14 bits of the flow hash pick one.
const (
	OuterPortMin = 49152
	OuterPortMax = 65535
)

// OuterPort maps a flow hash to the GENEVE outer UDP source port of the
// flow, in [OuterPortMin, OuterPortMax].
func OuterPort(h uint64) uint16 { return OuterPortMin | uint16(h>>50) }
