package route

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// randomTable returns a table of n distinct routes shaped like a large VPC
// route table: two thirds IPv4 (/8 to /32), one third IPv6 (/16 to /128).
func randomTable(n int, seed uint64) *Table[int] {
	r := rand.New(rand.NewPCG(seed, 1))
	t := New[int]()
	for t.Len() < n {
		p := randomPrefix(r)
		_ = t.Insert(p, t.Len()) // duplicates are skipped by ErrExists
	}
	return t
}

func randomPrefix(r *rand.Rand) netip.Prefix {
	if r.IntN(3) < 2 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], r.Uint32())
		p, _ := netip.AddrFrom4(b).Prefix(8 + r.IntN(25))
		return p
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], 0x2001_0db8_0000_0000|r.Uint64()>>32)
	binary.BigEndian.PutUint64(b[8:], r.Uint64())
	p, _ := netip.AddrFrom16(b).Prefix(16 + r.IntN(113))
	return p
}

// probes returns lookup addresses: half inside a route of t, half random.
func probes(t *Table[int], n int, seed uint64) []netip.Addr {
	r := rand.New(rand.NewPCG(seed, 2))
	var ps []netip.Prefix
	for p := range t.All() {
		ps = append(ps, p)
	}
	out := make([]netip.Addr, n)
	for i := range out {
		if i%2 == 0 {
			out[i] = ps[r.IntN(len(ps))].Addr()
			continue
		}
		out[i] = randomPrefix(r).Addr()
	}
	return out
}

func BenchmarkLookup(b *testing.B) {
	tbl := randomTable(1000, 42)
	addrs := probes(tbl, 4096, 7)
	b.Run("intervals", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tbl.Lookup(addrs[i&4095])
			i++
		}
	})
	lm := newLengthMaps(tbl)
	b.Run("length-maps", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			lm.lookup(addrs[i&4095])
			i++
		}
	})
}

func BenchmarkInsert1000(b *testing.B) {
	src := randomTable(1000, 42)
	for b.Loop() {
		t := New[int]()
		for p, v := range src.All() {
			_ = t.Insert(p, v)
		}
	}
}

// lengthMaps is the other candidate design: one hash map per prefix length,
// probed from the longest present length down. It stays in the tests so
// BenchmarkLookup keeps measuring the choice, and it is checked against the
// table so the comparison is between two correct implementations.
type lengthMaps struct {
	v4     [33]map[uint32]int
	v4mask uint64
	v6     [129]map[u128]int
	v6mask [3]uint64
}

func newLengthMaps(t *Table[int]) *lengthMaps {
	lm := &lengthMaps{}
	for p, v := range t.All() {
		l := p.Bits()
		if p.Addr().Is4() {
			if lm.v4[l] == nil {
				lm.v4[l] = map[uint32]int{}
			}
			b := p.Addr().As4()
			lm.v4[l][binary.BigEndian.Uint32(b[:])] = v
			lm.v4mask |= 1 << l
			continue
		}
		if lm.v6[l] == nil {
			lm.v6[l] = map[u128]int{}
		}
		lm.v6[l][key6(p.Addr())] = v
		lm.v6mask[l/64] |= 1 << (l % 64)
	}
	return lm
}

func key6(a netip.Addr) u128 {
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func mask6(k u128, l int) u128 {
	switch {
	case l == 0:
		return u128{}
	case l <= 64:
		return u128{hi: k.hi &^ (1<<(64-l) - 1)}
	default:
		return u128{hi: k.hi, lo: k.lo &^ (1<<(128-l) - 1)}
	}
}

func (lm *lengthMaps) lookup(a netip.Addr) (int, bool) {
	if a.Is4() {
		b := a.As4()
		k := binary.BigEndian.Uint32(b[:])
		for m := lm.v4mask; m != 0; {
			l := 63 - bits.LeadingZeros64(m)
			m &^= 1 << l
			if v, ok := lm.v4[l][k&^uint32(1<<(32-l)-1)]; ok {
				return v, true
			}
		}
		return 0, false
	}
	k := key6(a)
	for w := 2; w >= 0; w-- {
		for m := lm.v6mask[w]; m != 0; {
			bit := 63 - bits.LeadingZeros64(m)
			m &^= 1 << bit
			l := w*64 + bit
			if v, ok := lm.v6[l][mask6(k, l)]; ok {
				return v, true
			}
		}
	}
	return 0, false
}

func TestLengthMapsAgree(t *testing.T) {
	tbl := randomTable(1000, 42)
	lm := newLengthMaps(tbl)
	for _, a := range probes(tbl, 20000, 9) {
		wv, _, wok := tbl.Lookup(a)
		gv, gok := lm.lookup(a)
		if wv != gv || wok != gok {
			t.Fatalf("lookup(%s): length-maps %d %v, table %d %v", a, gv, gok, wv, wok)
		}
	}
}
