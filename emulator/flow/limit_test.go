package flow

import (
	"errors"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// TestLimit: tables sharing a Limit hold at most its number of flows
// between them; a full table refuses new flows only, and every way a flow
// leaves gives its room back.
func TestLimit(t *testing.T) {
	limit, err := NewLimit(3)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := New(Config{Limit: limit})
	b, _ := New(Config{Limit: limit, Seed: 7})
	k := func(port uint16) packet.FlowKey {
		return fkey("10.0.0.1", port, "10.0.0.2", 80, ProtoUDP)
	}
	insert := func(tb *Table, port uint16, now time.Duration) (bool, error) {
		_, _, created, err := tb.Insert(k(port), now, 0, 0, 10)
		return created, err
	}
	for i, tb := range []*Table{a, a, b} {
		if created, err := insert(tb, uint16(1000+i), 0); !created || err != nil {
			t.Fatalf("flow %d: created=%v err=%v", i, created, err)
		}
	}
	if limit.Used() != 3 {
		t.Fatalf("Used = %d, want 3", limit.Used())
	}
	// Full: a new flow in either table is refused and leaves no trace.
	for _, tb := range []*Table{a, b} {
		if created, err := insert(tb, 2000, 0); created || !errors.Is(err, ErrFull) {
			t.Fatalf("over the limit: created=%v err=%v", created, err)
		}
		if _, _, ok := tb.Lookup(k(2000), 0); ok {
			t.Fatal("a refused flow is in the table")
		}
	}
	// Existing flows go on: touched, and inserted again (another worker's
	// race, or the reply side) without needing room.
	if _, _, ok := a.Touch(k(1000), 0, 10); !ok {
		t.Fatal("an existing flow stopped at the limit")
	}
	if _, d, created, err := a.Insert(reverse(k(1001)), 0, 0, 0, 10); created || err != nil || d != Reply {
		t.Fatalf("existing flow's reply at the limit: created=%v err=%v dir=%v", created, err, d)
	}
	if limit.Used() != 3 || a.Len()+b.Len() != 3 {
		t.Fatalf("Used = %d, tables hold %d", limit.Used(), a.Len()+b.Len())
	}

	// Delete frees room.
	a.Delete(k(1000))
	if created, err := insert(b, 2000, 0); !created || err != nil {
		t.Fatalf("after Delete: created=%v err=%v", created, err)
	}
	// An expired flow replaced by its own key needs no new room, even full.
	late := DefaultIdleTimeout
	if created, err := insert(a, 1001, late); !created || err != nil {
		t.Fatalf("replacing an expired flow at the limit: created=%v err=%v", created, err)
	}
	// Expiry frees room; so does DeleteFunc.
	if n := b.Expire(late, nil); n != 2 {
		t.Fatalf("Expire removed %d, want 2 (flows 1002 and 2000)", n)
	}
	for _, port := range []uint16{3000, 3001} {
		if created, err := insert(b, port, late); !created || err != nil {
			t.Fatalf("after Expire: created=%v err=%v", created, err)
		}
	}
	if created, err := insert(b, 3002, late); created || !errors.Is(err, ErrFull) {
		t.Fatalf("full again: created=%v err=%v", created, err)
	}
	if n := b.DeleteFunc(func(Entry) bool { return true }); n != 2 {
		t.Fatalf("DeleteFunc removed %d, want 2", n)
	}
	if got, want := limit.Used(), a.Len()+b.Len(); got != want || got != 1 {
		t.Fatalf("Used = %d, tables hold %d, want 1", got, want)
	}
}

func TestNewLimitRejects(t *testing.T) {
	for _, n := range []int{0, -1} {
		if _, err := NewLimit(n); err == nil {
			t.Errorf("NewLimit(%d) accepted", n)
		}
	}
}

// TestWalkChunks: Walk sees every live flow once, whatever its buffer size,
// stops when asked, and skips expired flows.
func TestWalkChunks(t *testing.T) {
	tbl, _ := New(Config{Shards: 4})
	const n = 1000
	for i := range n {
		tbl.Insert(fkey("10.0.0.1", uint16(i+1), "10.0.0.2", 80, ProtoUDP), 0, i, 0, 0)
	}
	tbl.Insert(fkey("10.0.0.9", 1, "10.0.0.2", 80, ProtoUDP), -DefaultIdleTimeout, -1, 0, 0) // expired at 0
	for _, size := range []int{0, 1, 7, 64, 5000} {
		seen := map[int]int{}
		if !tbl.Walk(0, make([]Entry, size), func(e *Entry) bool { seen[e.Target]++; return true }) {
			t.Fatalf("buffer %d: walk stopped early", size)
		}
		if len(seen) != n {
			t.Fatalf("buffer %d: saw %d flows, want %d", size, len(seen), n)
		}
		for target, c := range seen {
			if c != 1 {
				t.Fatalf("buffer %d: flow %d seen %d times", size, target, c)
			}
		}
	}
	calls := 0
	if tbl.Walk(0, make([]Entry, 8), func(*Entry) bool { calls++; return calls < 10 }) || calls != 10 {
		t.Fatalf("stopped walk: returned true or %d calls", calls)
	}
	if got := tbl.Live(0); got != n {
		t.Fatalf("Live = %d, want %d", got, n)
	}
}
