package route

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// reference is the slow, obviously correct route table: a map, and a lookup
// that scans every route.
type reference map[netip.Prefix]int

func (r reference) lookup(a netip.Addr) (int, netip.Prefix, bool) {
	a = a.WithZone("") // Prefix.Contains refuses zoned addresses
	best, bestP, ok := 0, netip.Prefix{}, false
	for p, v := range r {
		if p.Contains(a) && (!ok || p.Bits() > bestP.Bits()) {
			best, bestP, ok = v, p, true
		}
	}
	return best, bestP, ok
}

func (r reference) sorted() []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(r))
	for p := range r {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return ps
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLookup(t *testing.T) {
	tbl := New[Target]()
	routes := []struct {
		prefix string
		target Target
	}{
		{"10.0.0.0/16", Target{Kind: KindLocal}},
		{"0.0.0.0/0", Target{KindIGW, "igw-1"}},
		{"10.0.1.0/24", Target{KindGWLBE, "vpce-1"}},
		{"10.0.1.7/32", Target{KindENI, "eni-7"}},
		{"198.51.100.0/24", Target{KindNAT, "nat-1"}},
		{"203.0.113.0/24", Target{Kind: KindBlackhole}},
		{"2001:db8::/56", Target{Kind: KindLocal}},
		{"::/0", Target{KindIGW, "igw-1"}},
		{"2001:db8:0:1::/64", Target{KindGWLBE, "vpce-1"}},
		{"2001:db8::1/128", Target{KindENI, "eni-1"}},
	}
	for _, r := range routes {
		if err := tbl.Insert(mustPrefix(t, r.prefix), r.target); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		addr   string
		prefix string // "" for no match
		target Target
	}{
		{"10.0.0.1", "10.0.0.0/16", Target{Kind: KindLocal}},
		{"10.0.1.6", "10.0.1.0/24", Target{KindGWLBE, "vpce-1"}},
		{"10.0.1.7", "10.0.1.7/32", Target{KindENI, "eni-7"}},
		{"10.0.1.8", "10.0.1.0/24", Target{KindGWLBE, "vpce-1"}},
		{"10.0.2.0", "10.0.0.0/16", Target{Kind: KindLocal}},
		{"10.1.0.0", "0.0.0.0/0", Target{KindIGW, "igw-1"}},
		{"255.255.255.255", "0.0.0.0/0", Target{KindIGW, "igw-1"}},
		{"0.0.0.0", "0.0.0.0/0", Target{KindIGW, "igw-1"}},
		{"198.51.100.255", "198.51.100.0/24", Target{KindNAT, "nat-1"}},
		{"203.0.113.9", "203.0.113.0/24", Target{Kind: KindBlackhole}},
		{"2001:db8::1", "2001:db8::1/128", Target{KindENI, "eni-1"}},
		{"2001:db8::2", "2001:db8::/56", Target{Kind: KindLocal}},
		{"2001:db8:0:1::2", "2001:db8:0:1::/64", Target{KindGWLBE, "vpce-1"}},
		{"2001:db8:0:100::", "::/0", Target{KindIGW, "igw-1"}},
		{"fe80::1%eth0", "::/0", Target{KindIGW, "igw-1"}},
		// An IPv4-mapped address is an IPv6 address: it matches ::/0 only.
		{"::ffff:10.0.0.1", "::/0", Target{KindIGW, "igw-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, p, ok := tbl.Lookup(netip.MustParseAddr(tt.addr))
			if !ok {
				t.Fatalf("Lookup(%s): no match, want %s", tt.addr, tt.prefix)
			}
			if p.String() != tt.prefix || got != tt.target {
				t.Fatalf("Lookup(%s) = %v via %s, want %v via %s", tt.addr, got, p, tt.target, tt.prefix)
			}
		})
	}
	if _, _, ok := tbl.Lookup(netip.Addr{}); ok {
		t.Error("Lookup(zero Addr) matched")
	}
}

func TestEmptyAndMisses(t *testing.T) {
	var zero Table[int] // the zero value is an empty table
	if _, _, ok := zero.Lookup(netip.MustParseAddr("10.0.0.1")); ok || zero.Len() != 0 {
		t.Error("zero Table is not empty")
	}
	if err := zero.Insert(mustPrefix(t, "::/0"), 1); err != nil {
		t.Fatal(err)
	}
	if v, _, ok := zero.Lookup(netip.MustParseAddr("2001:db8::1")); !ok || v != 1 {
		t.Error("zero Table does not take routes")
	}
	tbl := New[int]()
	for _, a := range []string{"0.0.0.0", "10.0.0.1", "::", "2001:db8::1"} {
		if _, _, ok := tbl.Lookup(netip.MustParseAddr(a)); ok {
			t.Errorf("empty table matched %s", a)
		}
	}
	_ = tbl.Insert(mustPrefix(t, "10.0.0.0/8"), 1)
	for _, a := range []string{"9.255.255.255", "11.0.0.0", "::a00:1"} {
		if _, _, ok := tbl.Lookup(netip.MustParseAddr(a)); ok {
			t.Errorf("matched %s", a)
		}
	}
}

func TestMutationErrors(t *testing.T) {
	tbl := New[int]()
	p := mustPrefix(t, "10.0.0.0/8")
	if err := tbl.Insert(p, 1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"insert existing", tbl.Insert(p, 2), ErrExists},
		{"replace missing", tbl.Replace(mustPrefix(t, "10.0.0.0/9"), 2), ErrNotFound},
		{"delete missing", tbl.Delete(mustPrefix(t, "::/0")), ErrNotFound},
		{"host bits", tbl.Insert(mustPrefix(t, "10.0.0.1/8"), 2), ErrInvalidPrefix},
		{"zero prefix", tbl.Insert(netip.Prefix{}, 2), ErrInvalidPrefix},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	if v, ok := tbl.Get(p); !ok || v != 1 {
		t.Errorf("failed mutations changed the table: Get = %d, %v", v, ok)
	}
	if err := tbl.Replace(p, 3); err != nil {
		t.Fatal(err)
	}
	if v, _, _ := tbl.Lookup(netip.MustParseAddr("10.1.2.3")); v != 3 {
		t.Errorf("after Replace, Lookup = %d, want 3", v)
	}
}

func TestCloneIsIndependent(t *testing.T) {
	a := New[int]()
	_ = a.Insert(mustPrefix(t, "10.0.0.0/8"), 1)
	b := a.Clone()
	_ = b.Insert(mustPrefix(t, "10.0.0.0/16"), 2)
	_ = b.Replace(mustPrefix(t, "10.0.0.0/8"), 3)
	if v, p, _ := a.Lookup(netip.MustParseAddr("10.0.0.1")); v != 1 || p.Bits() != 8 {
		t.Errorf("original changed: %d via %s", v, p)
	}
	if v, p, _ := b.Lookup(netip.MustParseAddr("10.0.0.1")); v != 2 || p.Bits() != 16 {
		t.Errorf("clone: %d via %s", v, p)
	}
}

// gen produces prefixes and addresses that collide often: a few base
// addresses, random lengths with the extremes over-represented.
type gen struct {
	r     *rand.Rand
	bases []netip.Addr
}

func newGen(seed uint64) *gen {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x5eed))}
	for _, s := range []string{"0.0.0.0", "10.0.0.0", "10.0.1.0", "192.0.2.0", "255.255.255.255", "::", "2001:db8::", "2001:db8:0:1::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::ffff:10.0.0.0"} {
		g.bases = append(g.bases, netip.MustParseAddr(s))
	}
	return g
}

// addr returns a base address with a few random bits flipped.
func (g *gen) addr() netip.Addr {
	a := g.bases[g.r.IntN(len(g.bases))]
	b := a.AsSlice()
	for range g.r.IntN(3) {
		i := len(b) - 1 - g.r.IntN(min(len(b), 6))
		b[i] ^= 1 << g.r.IntN(8)
	}
	out, _ := netip.AddrFromSlice(b)
	return out
}

func (g *gen) prefix() netip.Prefix {
	a := g.addr()
	var bits int
	switch g.r.IntN(6) {
	case 0:
		bits = 0
	case 1:
		bits = a.BitLen()
	default:
		bits = g.r.IntN(a.BitLen() + 1)
	}
	p, _ := a.Prefix(bits)
	return p
}

// probe returns an address near an interesting edge of one of the prefixes
// ps, or a random address.
func (g *gen) probe(ps []netip.Prefix) netip.Addr {
	if len(ps) == 0 || g.r.IntN(4) == 0 {
		return g.addr()
	}
	p := ps[g.r.IntN(len(ps))]
	first := p.Addr()
	b := first.AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(b)
	switch g.r.IntN(4) {
	case 0:
		return first
	case 1:
		return last
	case 2:
		if n := last.Next(); n.IsValid() {
			return n
		}
		return last
	default:
		if n := first.Prev(); n.IsValid() {
			return n
		}
		return first
	}
}

// TestAgainstReference runs thousands of random mutations and lookups on the
// table and on the reference, and checks they agree after every step.
func TestAgainstReference(t *testing.T) {
	for seed := range uint64(5) {
		g := newGen(seed)
		tbl, ref := New[int](), reference{}
		for step := range 3000 {
			p := g.prefix()
			v := g.r.IntN(1000)
			switch op := g.r.IntN(10); {
			case op < 4:
				err := tbl.Insert(p, v)
				if _, exists := ref[p]; exists != errors.Is(err, ErrExists) || (!exists && err != nil) {
					t.Fatalf("seed %d step %d: Insert(%s) = %v, exists %v", seed, step, p, err, exists)
				}
				if _, exists := ref[p]; !exists {
					ref[p] = v
				}
			case op < 6:
				err := tbl.Delete(p)
				if _, exists := ref[p]; exists != (err == nil) {
					t.Fatalf("seed %d step %d: Delete(%s) = %v, exists %v", seed, step, p, err, exists)
				}
				delete(ref, p)
			case op < 7:
				err := tbl.Replace(p, v)
				if _, exists := ref[p]; exists != (err == nil) {
					t.Fatalf("seed %d step %d: Replace(%s) = %v, exists %v", seed, step, p, err, exists)
				}
				if _, exists := ref[p]; exists {
					ref[p] = v
				}
			}
			ps := ref.sorted() // sorted, so a seed always replays the same run
			for range 8 {
				a := g.probe(ps)
				wv, wp, wok := ref.lookup(a)
				gv, gp, gok := tbl.Lookup(a)
				if wok != gok || wv != gv || wp != gp {
					t.Fatalf("seed %d step %d: Lookup(%s) = %d %s %v, reference %d %s %v", seed, step, a, gv, gp, gok, wv, wp, wok)
				}
			}
			if tbl.Len() != len(ref) {
				t.Fatalf("seed %d step %d: Len = %d, reference %d", seed, step, tbl.Len(), len(ref))
			}
		}
		got := map[netip.Prefix]int{}
		for p, v := range tbl.All() {
			got[p] = v
		}
		if diff := cmp.Diff(map[netip.Prefix]int(ref), got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
			t.Fatalf("seed %d: All() differs from reference (-want +got):\n%s", seed, diff)
		}
	}
}

func TestLookupDoesNotAllocate(t *testing.T) {
	tbl := randomTable(1000, 1)
	addrs := []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::1%eth0")}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, a := range addrs {
			tbl.Lookup(a)
		}
	})
	if allocs != 0 {
		t.Fatalf("Lookup allocates %.1f times per run", allocs)
	}
}

// TestConcurrentLookups lets the race detector check that lookups on a
// published table share nothing mutable.
func TestConcurrentLookups(t *testing.T) {
	tbl := randomTable(200, 2)
	done := make(chan struct{})
	for w := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			g := newGen(uint64(w))
			for range 2000 {
				tbl.Lookup(g.addr())
			}
		}()
	}
	for range 4 {
		<-done
	}
}
