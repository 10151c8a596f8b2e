package flow

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// refTable is the slow, obviously correct flow table: a map keyed by a
// string spelling out the normalised key, and expiry by a linear scan. It
// shares no code with Normalize.
type refTable struct {
	mode       Mode
	tcp, other time.Duration
	flows      map[string]*refFlow
}

type refFlow struct {
	e       Entry
	initSrc netip.AddrPort // the initiator's source endpoint after normalisation
}

// norm spells out spec §3.1 directly.
func (r *refTable) norm(fk packet.FlowKey) (key string, src netip.AddrPort) {
	sp, dp, proto := fk.SrcPort, fk.DstPort, fk.Proto
	if r.mode != FiveTuple || (proto != 6 && proto != 17) {
		sp, dp = 0, 0
	}
	if r.mode == TwoTuple {
		proto = 0
	}
	s := netip.AddrPortFrom(fk.Src.WithZone(""), sp)
	d := netip.AddrPortFrom(fk.Dst.WithZone(""), dp)
	lo, hi := s, d
	if s.Compare(d) > 0 {
		lo, hi = d, s
	}
	return fmt.Sprintf("%s %s %d", lo, hi, proto), s
}

func (r *refTable) live(key string, now time.Duration) (*refFlow, bool) {
	f, ok := r.flows[key]
	if !ok {
		return nil, false
	}
	timeout := r.other
	if f.e.TCP {
		timeout = r.tcp
	}
	return f, now-f.e.LastSeen < timeout
}

func (r *refTable) dir(f *refFlow, src netip.AddrPort) Dir {
	if src == f.initSrc {
		return Original
	}
	return Reply
}

func (r *refTable) count(f *refFlow, d Dir, now time.Duration, size int) {
	if now > f.e.LastSeen {
		f.e.LastSeen = now
	}
	f.e.Packets[d]++
	f.e.Bytes[d] += uint64(size)
}

func (r *refTable) lookup(fk packet.FlowKey, now time.Duration) (Entry, Dir, bool) {
	key, src := r.norm(fk)
	if f, ok := r.live(key, now); ok {
		return f.e, r.dir(f, src), true
	}
	return Entry{}, Original, false
}

func (r *refTable) touch(fk packet.FlowKey, now time.Duration, size int) (Entry, Dir, bool) {
	key, src := r.norm(fk)
	if f, ok := r.live(key, now); ok {
		d := r.dir(f, src)
		r.count(f, d, now, size)
		return f.e, d, true
	}
	return Entry{}, Original, false
}

func (r *refTable) insert(fk packet.FlowKey, now time.Duration, target int, cookie uint32, size int, port uint16) (Entry, Dir, bool) {
	key, src := r.norm(fk)
	if f, ok := r.live(key, now); ok {
		d := r.dir(f, src)
		r.count(f, d, now, size)
		return f.e, d, false
	}
	f := &refFlow{
		e: Entry{
			Key: fk, Target: target, Cookie: cookie, OuterPort: port, TCP: fk.Proto == 6,
			Created: now, LastSeen: now, Packets: [2]uint64{1, 0}, Bytes: [2]uint64{uint64(size), 0},
		},
		initSrc: src,
	}
	r.flows[key] = f
	return f.e, Original, true
}

func (r *refTable) expire(now time.Duration) []Entry {
	var out []Entry
	for key := range r.flows {
		if f, ok := r.live(key, now); !ok {
			out = append(out, f.e)
			delete(r.flows, key)
		}
	}
	return out
}

func (r *refTable) all(now time.Duration) []Entry {
	var out []Entry
	for key := range r.flows {
		if f, ok := r.live(key, now); ok {
			out = append(out, f.e)
		}
	}
	return out
}

// sortEntries orders entries by their initiator key, which is unique in a
// table (one flow per normalised key, and an initiator key normalises to
// its flow's key).
func sortEntries(es []Entry) []Entry {
	slices.SortFunc(es, func(a, b Entry) int {
		if c := cmpFlowKey(a.Key, b.Key); c != 0 {
			return c
		}
		return int(a.Created - b.Created)
	})
	return es
}

func cmpFlowKey(a, b packet.FlowKey) int {
	if c := a.Src.Compare(b.Src); c != 0 {
		return c
	}
	if c := a.Dst.Compare(b.Dst); c != 0 {
		return c
	}
	if c := int(a.SrcPort) - int(b.SrcPort); c != 0 {
		return c
	}
	if c := int(a.DstPort) - int(b.DstPort); c != 0 {
		return c
	}
	return int(a.Proto) - int(b.Proto)
}

var entryCmp = cmp.Comparer(func(a, b netip.Addr) bool { return a == b })

func TestTableAgainstReference(t *testing.T) {
	for _, mode := range []Mode{FiveTuple, ThreeTuple, TwoTuple} {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("%v/seed%d", mode, seed), func(t *testing.T) {
				runAgainstReference(t, mode, seed)
			})
		}
	}
}

func runAgainstReference(t *testing.T, mode Mode, seed uint64) {
	cfg := Config{Mode: mode, Seed: seed, Shards: 4, TCPIdleTimeout: 350 * time.Second, IdleTimeout: 120 * time.Second}
	if seed%2 == 1 {
		cfg.TCPIdleTimeout, cfg.IdleTimeout = 60*time.Second, 30*time.Second
	}
	tbl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ref := &refTable{mode: mode, tcp: cfg.TCPIdleTimeout, other: cfg.IdleTimeout, flows: map[string]*refFlow{}}
	r := rand.New(rand.NewPCG(seed, uint64(mode)))
	var seen []packet.FlowKey
	now := time.Duration(r.Int64N(int64(time.Hour)))
	pick := func() packet.FlowKey {
		if len(seen) > 0 {
			switch r.IntN(5) {
			case 0, 1:
				return reverse(seen[r.IntN(len(seen))])
			case 2:
				return seen[r.IntN(len(seen))]
			}
		}
		k := randomKey(r)
		seen = append(seen, k)
		return k
	}
	for step := range 4000 {
		switch r.IntN(20) {
		case 0:
			now += time.Duration(r.Int64N(int64(400 * time.Second)))
		case 1, 2, 3:
			now += time.Duration(r.Int64N(int64(10 * time.Second)))
		case 4:
			now -= time.Duration(r.Int64N(int64(time.Millisecond))) // a worker's late clock reading
		}
		fk := pick()
		size := r.IntN(1500)
		what := ""
		var got, want Entry
		var gd, wd Dir
		var gok, wok bool
		switch op := r.IntN(20); {
		case op < 6:
			what = "Insert"
			target, cookie := r.IntN(8), r.Uint32()
			got, gd, gok, _ = tbl.Insert(fk, now, target, cookie, size)
			want, wd, wok = ref.insert(fk, now, target, cookie, size, OuterPort(tbl.Hash(fk)))
		case op < 11:
			what = "Touch"
			got, gd, gok = tbl.Touch(fk, now, size)
			want, wd, wok = ref.touch(fk, now, size)
		case op < 17:
			what = "Lookup"
			got, gd, gok = tbl.Lookup(fk, now)
			want, wd, wok = ref.lookup(fk, now)
		case op < 18:
			what = "Delete"
			key, _ := ref.norm(fk)
			_, had := ref.flows[key]
			delete(ref.flows, key)
			if gotHad := tbl.Delete(fk); gotHad != had {
				t.Fatalf("step %d: Delete(%v) = %v, reference %v", step, fk, gotHad, had)
			}
		default:
			what = "Expire"
			var gotE []Entry
			n := tbl.Expire(now, func(e Entry) { gotE = append(gotE, e) })
			wantE := ref.expire(now)
			if n != len(gotE) {
				t.Fatalf("step %d: Expire returned %d but reported %d entries", step, n, len(gotE))
			}
			if diff := cmp.Diff(sortEntries(wantE), sortEntries(gotE), entryCmp); diff != "" {
				t.Fatalf("step %d: Expire(%v) differs (-reference +table):\n%s", step, now, diff)
			}
		}
		if gok != wok || gd != wd || !cmp.Equal(got, want, entryCmp) {
			t.Fatalf("step %d: %s(%v, %v) = %v %v %+v\nreference %v %v %+v", step, what, fk, now, gok, gd, got, wok, wd, want)
		}
		if tbl.Len() != len(ref.flows) {
			t.Fatalf("step %d: Len = %d, reference %d", step, tbl.Len(), len(ref.flows))
		}
		if step%250 == 0 {
			if diff := cmp.Diff(sortEntries(ref.all(now)), sortEntries(slices.Collect(tbl.All(now))), entryCmp); diff != "" {
				t.Fatalf("step %d: All differs (-reference +table):\n%s", step, diff)
			}
		}
	}
}

func TestBothDirectionsOneFlow(t *testing.T) {
	for _, mode := range []Mode{FiveTuple, ThreeTuple, TwoTuple} {
		tbl, _ := New(Config{Mode: mode})
		fwd := fkey("10.0.0.10", 40000, "198.51.100.7", 443, ProtoTCP)
		e, d, created, _ := tbl.Insert(fwd, 0, 3, 0xc0ffee, 60)
		if !created || d != Original || e.Target != 3 || !e.TCP {
			t.Fatalf("%v: Insert = %+v %v %v", mode, e, d, created)
		}
		got, d, ok := tbl.Touch(reverse(fwd), time.Second, 1500)
		if !ok || d != Reply || got.Cookie != 0xc0ffee || got.OuterPort != e.OuterPort || got.Target != 3 {
			t.Fatalf("%v: reply Touch = %+v %v %v", mode, got, d, ok)
		}
		if got.Packets != [2]uint64{1, 1} || got.Bytes != [2]uint64{60, 1500} || got.LastSeen != time.Second {
			t.Fatalf("%v: counters %+v", mode, got)
		}
		// A second "initiator" from the other side joins the existing flow.
		if _, d, created, _ := tbl.Insert(reverse(fwd), 2*time.Second, 5, 1, 0); created || d != Reply {
			t.Fatalf("%v: reverse Insert created=%v dir=%v", mode, created, d)
		}
		if tbl.Len() != 1 {
			t.Fatalf("%v: Len = %d", mode, tbl.Len())
		}
	}
}

func TestIdleTimeouts(t *testing.T) {
	tbl, _ := New(Config{})
	tcp := fkey("10.0.0.1", 1, "10.0.0.2", 2, ProtoTCP)
	udp := fkey("10.0.0.1", 1, "10.0.0.2", 2, ProtoUDP)
	icmp := fkey("10.0.0.1", 0, "10.0.0.2", 0, 1)
	for _, k := range []packet.FlowKey{tcp, udp, icmp} {
		tbl.Insert(k, 0, 0, 0, 0)
	}
	if _, _, ok := tbl.Lookup(udp, 119*time.Second); !ok {
		t.Error("UDP flow gone before 120 s")
	}
	if _, _, ok := tbl.Lookup(icmp, 120*time.Second); ok {
		t.Error("ICMP flow alive at 120 s")
	}
	// Traffic in either direction resets the timer.
	tbl.Touch(reverse(tcp), 300*time.Second, 0)
	var expired []packet.FlowKey
	n := tbl.Expire(349*time.Second, func(e Entry) {
		expired = append(expired, e.Key)
		tbl.Len() // the callback may call back into the table
	})
	if n != 2 || len(expired) != 2 || tbl.Len() != 1 {
		t.Fatalf("Expire removed %d (%v), %d left; want UDP and ICMP gone, TCP left", n, expired, tbl.Len())
	}
	if _, _, ok := tbl.Lookup(tcp, 649*time.Second); !ok {
		t.Error("TCP flow gone before 350 s idle")
	}
	if _, _, ok := tbl.Touch(tcp, 650*time.Second, 0); ok {
		t.Error("TCP flow alive after 350 s idle")
	}
	// After expiry, the next packet makes a new flow with a new cookie.
	e, _, created, _ := tbl.Insert(tcp, 651*time.Second, 1, 99, 0)
	if !created || e.Cookie != 99 || e.Created != 651*time.Second || e.Packets != [2]uint64{1, 0} {
		t.Errorf("re-insert after expiry = %+v, created %v", e, created)
	}
}

func TestDeleteFunc(t *testing.T) {
	tbl, _ := New(Config{})
	for i := range 100 {
		tbl.Insert(fkey("10.0.0.1", uint16(i), "10.0.0.2", 80, ProtoTCP), 0, i%3, 0, 0)
	}
	if n := tbl.DeleteFunc(func(e Entry) bool { return e.Target == 1 }); n != 33 {
		t.Fatalf("DeleteFunc removed %d, want 33", n)
	}
	for e := range tbl.All(0) {
		if e.Target == 1 {
			t.Fatalf("flow of target 1 left: %+v", e)
		}
	}
	if tbl.Len() != 67 {
		t.Fatalf("Len = %d", tbl.Len())
	}
}

func TestNewRejects(t *testing.T) {
	for _, cfg := range []Config{{Mode: 3}, {Shards: 3}, {Shards: -2}, {TCPIdleTimeout: -1}, {IdleTimeout: -1}} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	tbl, _ := New(Config{})
	if c := tbl.Config(); c.TCPIdleTimeout != 350*time.Second || c.IdleTimeout != 120*time.Second || c.Shards != DefaultShards {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	tbl, _ := New(Config{})
	fk := fkey("2001:db8::10", 40000, "2001:db8::7", 443, ProtoTCP)
	rev := reverse(fk)
	tbl.Insert(fk, 0, 1, 2, 100)
	now := time.Duration(0)
	for name, f := range map[string]func(){
		"Lookup": func() { tbl.Lookup(rev, now) },
		"Touch":  func() { now++; tbl.Touch(rev, now, 100) },
		"Hash":   func() { tbl.Hash(fk) },
		// Churn: a freed slot and map entry are reused.
		"Insert+Delete": func() { tbl.Insert(rev, now, 1, 2, 100); tbl.Delete(fk) },
	} {
		if allocs := testing.AllocsPerRun(1000, f); allocs != 0 {
			t.Errorf("%s allocates %.1f times per run", name, allocs)
		}
	}
}

// TestConcurrentUse lets the race detector check the locking: workers
// insert and touch overlapping flows in both directions while a sweeper
// expires and a lister lists.
func TestConcurrentUse(t *testing.T) {
	tbl, _ := New(Config{Shards: 4, IdleTimeout: time.Second})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 0))
			for i := range 3000 {
				fk := randomKey(r)
				now := time.Duration(i) * time.Millisecond
				if _, _, ok := tbl.Touch(fk, now, 64); !ok {
					tbl.Insert(fk, now, w, r.Uint32(), 64)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 100 {
			tbl.Expire(time.Duration(i)*30*time.Millisecond, func(Entry) {})
			for range tbl.All(0) {
			}
		}
	}()
	wg.Wait()
}

func benchKey(i int) packet.FlowKey {
	return packet.FlowKey{
		Src: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), Dst: netip.AddrFrom4([4]byte{198, 51, 100, 7}),
		SrcPort: uint16(32768 + i%28000), DstPort: 443, Proto: ProtoTCP,
	}
}

// BenchmarkLookup and BenchmarkTouch run on a lab-sized table (1k flows,
// cache-resident) and a large one (64k flows, where every lookup misses the
// CPU caches and memory latency dominates).
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{1 << 10, 1 << 16} {
		b.Run(fmt.Sprintf("flows=%d", n), func(b *testing.B) {
			tbl, _ := New(Config{})
			keys := make([]packet.FlowKey, n)
			for i := range keys {
				keys[i] = benchKey(i)
				tbl.Insert(keys[i], 0, i, 0, 0)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tbl.Lookup(keys[i&(n-1)], time.Second)
				i++
			}
		})
	}
}

func BenchmarkTouch(b *testing.B) {
	for _, n := range []int{1 << 10, 1 << 16} {
		b.Run(fmt.Sprintf("flows=%d", n), func(b *testing.B) {
			tbl, _ := New(Config{})
			keys := make([]packet.FlowKey, n)
			for i := range keys {
				keys[i] = benchKey(i)
				tbl.Insert(keys[i], 0, i, 0, 0)
				keys[i] = reverse(keys[i])
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				tbl.Touch(keys[i&(n-1)], time.Second, 1500)
				i++
			}
		})
	}
}

// BenchmarkInsert creates new flows into a table that holds up to a million;
// the table is reset then, so the numbers include map growth.
func BenchmarkInsert(b *testing.B) {
	tbl, _ := New(Config{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == 1<<20 {
			b.StopTimer()
			tbl, _ = New(Config{})
			i = 0
			b.StartTimer()
		}
		tbl.Insert(benchKey(i), 0, i, 0, 64)
		i++
	}
}

// BenchmarkInsertSteady is flow churn at a constant table size: each new flow
// reuses the slot of one that ended.
func BenchmarkInsertSteady(b *testing.B) {
	tbl, _ := New(Config{})
	const live = 1 << 16
	for i := range live {
		tbl.Insert(benchKey(i), 0, i, 0, 64)
	}
	b.ReportAllocs()
	i := live
	for b.Loop() {
		tbl.Delete(benchKey(i - live))
		tbl.Insert(benchKey(i), 0, i, 0, 64)
		i++
	}
}

func TestRetarget(t *testing.T) {
	tb, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	fk := packet.FlowKey{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 1, DstPort: 2, Proto: ProtoTCP}
	if tb.Retarget(fk, 0, 3, false) {
		t.Fatal("retargeted a flow that does not exist")
	}
	e, _, _, _ := tb.Insert(fk, 0, 1, 0xabc, 10)
	rev := packet.FlowKey{Src: fk.Dst, Dst: fk.Src, SrcPort: fk.DstPort, DstPort: fk.SrcPort, Proto: fk.Proto}
	if !tb.Retarget(rev, time.Second, 3, true) {
		t.Fatal("retarget by the reply direction failed")
	}
	got, _, _ := tb.Lookup(fk, time.Second)
	if got.Target != 3 || !got.Pinned || got.Cookie != e.Cookie || got.OuterPort != e.OuterPort || got.Packets != e.Packets {
		t.Fatalf("after retarget %+v, before %+v", got, e)
	}
	if tb.Retarget(fk, time.Hour, 1, false) {
		t.Fatal("retargeted an expired flow")
	}
}
