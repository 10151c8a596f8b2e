package route

import (
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
)

// Errors a mutation returns, wrapped with the prefix concerned. They mirror
// the AWS API errors RouteAlreadyExists, InvalidRoute.NotFound and
// InvalidParameterValue, so callers can tell a conflicting change from a
// malformed one.
var (
	ErrExists        = errors.New("route already exists")
	ErrNotFound      = errors.New("no such route")
	ErrInvalidPrefix = errors.New("invalid destination prefix")
)

// Kind says what a route sends matching traffic to.
type Kind uint8

// Route target kinds. The zero Kind is deliberately not a target, so a
// forgotten field shows up as "none" instead of silently dropping traffic.
const (
	KindNone      Kind = iota
	KindLocal          // the VPC's own CIDR: deliver inside the VPC
	KindIGW            // internet gateway
	KindNAT            // NAT gateway
	KindGWLBE          // Gateway Load Balancer endpoint
	KindENI            // an instance or a network interface
	KindBlackhole      // the target was deleted: drop
)

var kindNames = [...]string{"none", "local", "igw", "nat", "gwlbe", "eni", "blackhole"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Target is the plain-data route target the fabric can store in a
// Table[Target]: a kind and, except for local and blackhole, the ID of the
// resource ("igw-…", "nat-…", "vpce-…", "eni-…"). It is comparable and
// copying it does not allocate.
type Target struct {
	Kind Kind
	ID   string
}

func (t Target) String() string {
	if t.ID == "" {
		return t.Kind.String()
	}
	return t.Kind.String() + ":" + t.ID
}

type route[T any] struct {
	prefix netip.Prefix
	value  T
}

// u128 is an IPv6 address as a big-endian pair of words; IPv4 addresses use
// the same type with only lo set, so one index type serves both families.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

// family holds the routes of one address family, sorted by start address
// and then by ascending prefix length (a covering route before the routes it
// covers), and the interval index derived from them.
type family[T any] struct {
	routes []route[T]
	// starts[i] is the first address of interval i; the interval runs up to
	// starts[i+1]-1 (or the end of the address space). Both are nil until
	// the first Insert; after it, starts[0] is always zero. best[i] indexes
	// routes, or is -1 where no route matches.
	starts []u128
	best   []int32
}

// Table is one route table. The zero value is an empty table.
//
// Concurrency: Lookup, Get, Len and All may run concurrently with each other
// from any number of goroutines without locking. Insert, Replace and Delete
// must not run concurrently with anything else on the same table: build a
// table (or [Table.Clone] the current one), mutate it, then publish it, e.g.
// through an atomic.Pointer, and never mutate it again.
type Table[T any] struct {
	v4, v6 family[T]
}

// New returns an empty table. It holds no routes at all, not even the local
// route: AWS adds that one, and so does whoever builds the table.
func New[T any]() *Table[T] { return &Table[T]{} }

// Clone returns an independent copy of t, for copy-on-write updates.
func (t *Table[T]) Clone() *Table[T] {
	c := &Table[T]{v4: t.v4.clone(), v6: t.v6.clone()}
	return c
}

func (f *family[T]) clone() family[T] {
	return family[T]{
		routes: slices.Clone(f.routes),
		starts: slices.Clone(f.starts),
		best:   slices.Clone(f.best),
	}
}

func (t *Table[T]) family(p netip.Prefix) (*family[T], error) {
	if !p.IsValid() {
		return nil, fmt.Errorf("route %q: %w", p, ErrInvalidPrefix)
	}
	if m := p.Masked(); m != p {
		return nil, fmt.Errorf("route %q: %w: host bits set (network is %s)", p, ErrInvalidPrefix, m)
	}
	if p.Addr().Is4() {
		return &t.v4, nil
	}
	return &t.v6, nil
}

// Insert adds a route to p. It fails with ErrExists if the table already has
// a route to exactly p, and with ErrInvalidPrefix if p is invalid or has host
// bits set (10.0.0.1/8).
func (t *Table[T]) Insert(p netip.Prefix, v T) error {
	f, err := t.family(p)
	if err != nil {
		return err
	}
	i, found := f.search(p)
	if found {
		return fmt.Errorf("route %q: %w", p, ErrExists)
	}
	f.routes = slices.Insert(f.routes, i, route[T]{prefix: p, value: v})
	f.reindex()
	return nil
}

// Replace changes the target of the existing route to p. It fails with
// ErrNotFound if there is none.
func (t *Table[T]) Replace(p netip.Prefix, v T) error {
	f, err := t.family(p)
	if err != nil {
		return err
	}
	i, found := f.search(p)
	if !found {
		return fmt.Errorf("route %q: %w", p, ErrNotFound)
	}
	// The set of prefixes is unchanged, so the index still holds.
	f.routes[i].value = v
	return nil
}

// Delete removes the route to p. It fails with ErrNotFound if there is none.
func (t *Table[T]) Delete(p netip.Prefix) error {
	f, err := t.family(p)
	if err != nil {
		return err
	}
	i, found := f.search(p)
	if !found {
		return fmt.Errorf("route %q: %w", p, ErrNotFound)
	}
	f.routes = slices.Delete(f.routes, i, i+1)
	f.reindex()
	return nil
}

// Get returns the target of the route to exactly p (no longest-prefix
// matching).
func (t *Table[T]) Get(p netip.Prefix) (T, bool) {
	f, err := t.family(p)
	if err == nil {
		if i, found := f.search(p); found {
			return f.routes[i].value, true
		}
	}
	var zero T
	return zero, false
}

// Len returns the number of routes in the table.
func (t *Table[T]) Len() int { return len(t.v4.routes) + len(t.v6.routes) }

// All yields every route, IPv4 first, each family ordered by address and
// then by prefix length.
func (t *Table[T]) All() iter.Seq2[netip.Prefix, T] {
	return func(yield func(netip.Prefix, T) bool) {
		for _, f := range []*family[T]{&t.v4, &t.v6} {
			for _, r := range f.routes {
				if !yield(r.prefix, r.value) {
					return
				}
			}
		}
	}
}

// Lookup returns the target of the longest prefix that contains a, and that
// prefix. An IPv4 address matches IPv4 routes only; an IPv6 address
// (including an IPv4-mapped one) matches IPv6 routes only; an address's zone
// is ignored. It does not allocate.
func (t *Table[T]) Lookup(a netip.Addr) (T, netip.Prefix, bool) {
	var f *family[T]
	var k u128
	switch {
	case a.Is4():
		b := a.As4()
		k.lo = uint64(binary.BigEndian.Uint32(b[:]))
		f = &t.v4
	case a.Is6():
		b := a.As16()
		k.hi = binary.BigEndian.Uint64(b[:8])
		k.lo = binary.BigEndian.Uint64(b[8:])
		f = &t.v6
	default:
		var zero T
		return zero, netip.Prefix{}, false
	}
	// Find the last interval that starts at or before k. starts[0] is zero,
	// so there always is one; the loop keeps lo at an interval known to
	// start at or before k and halves the candidates after it.
	s := f.starts
	if len(s) == 0 { // never indexed: no route of this family yet
		var zero T
		return zero, netip.Prefix{}, false
	}
	lo, n := 0, len(s)
	for n > 1 {
		half := n >> 1
		if !k.less(s[lo+half]) {
			lo += half
		}
		n -= half
	}
	if i := f.best[lo]; i >= 0 {
		r := &f.routes[i]
		return r.value, r.prefix, true
	}
	var zero T
	return zero, netip.Prefix{}, false
}

// bounds returns the first and last address of p as numbers.
func (f *family[T]) bounds(p netip.Prefix) (first, last u128) {
	a := p.Addr()
	if a.Is4() {
		b := a.As4()
		first.lo = uint64(binary.BigEndian.Uint32(b[:]))
		last.lo = first.lo | (1<<(32-p.Bits()) - 1)
		return first, last
	}
	b := a.As16()
	first.hi = binary.BigEndian.Uint64(b[:8])
	first.lo = binary.BigEndian.Uint64(b[8:])
	host := 128 - p.Bits()
	last = first
	switch {
	case host >= 64:
		last.lo = ^uint64(0)
		last.hi |= 1<<(host-64) - 1 // host-64 == 64 gives all ones
	default:
		last.lo |= 1<<host - 1
	}
	return first, last
}

// cmp orders prefixes of one family by start address, then by length, so a
// covering prefix comes before every prefix it covers.
func (f *family[T]) cmp(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

func (f *family[T]) search(p netip.Prefix) (int, bool) {
	return slices.BinarySearchFunc(f.routes, p, func(r route[T], p netip.Prefix) int { return f.cmp(r.prefix, p) })
}

// reindex rebuilds the interval index with one sweep over the sorted
// routes. CIDR prefixes are either nested or disjoint, so a stack of the
// routes enclosing the current address is enough: entering a route starts an
// interval labelled with it, leaving one resumes the enclosing route (or
// none) just after its last address.
func (f *family[T]) reindex() {
	starts := make([]u128, 0, 2*len(f.routes)+1)
	best := make([]int32, 0, 2*len(f.routes)+1)
	emit := func(at u128, r int32) {
		// An interval that starts where the previous one started makes the
		// previous one empty: drop it.
		for n := len(starts); n > 0 && starts[n-1] == at; n-- {
			starts, best = starts[:n-1], best[:n-1]
		}
		// Neighbouring intervals with the same route are one interval.
		if n := len(best); n > 0 && best[n-1] == r {
			return
		}
		starts, best = append(starts, at), append(best, r)
	}
	bits := 128
	if len(f.routes) > 0 && f.routes[0].prefix.Addr().Is4() {
		bits = 32
	}
	lasts := make([]u128, len(f.routes))
	var stack []int32
	pop := func() {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		next, ok := inc(lasts[top], bits)
		if !ok {
			return // the route ran to the end of the address space
		}
		parent := int32(-1)
		if len(stack) > 0 {
			parent = stack[len(stack)-1]
		}
		emit(next, parent)
	}
	emit(u128{}, -1)
	for i, r := range f.routes {
		first, last := f.bounds(r.prefix)
		lasts[i] = last
		for len(stack) > 0 && lasts[stack[len(stack)-1]].less(first) {
			pop()
		}
		emit(first, int32(i))
		stack = append(stack, int32(i))
	}
	for len(stack) > 0 {
		pop()
	}
	f.starts, f.best = starts, best
}

// inc returns a+1, or false if a is the last address of the family.
func inc(a u128, bits int) (u128, bool) {
	if bits == 32 {
		if a.lo == 1<<32-1 {
			return a, false
		}
		return u128{lo: a.lo + 1}, true
	}
	if a.lo != ^uint64(0) {
		return u128{hi: a.hi, lo: a.lo + 1}, true
	}
	if a.hi == ^uint64(0) {
		return a, false
	}
	return u128{hi: a.hi + 1}, true
}
