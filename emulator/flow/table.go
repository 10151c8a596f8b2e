package flow

import (
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// Defaults of spec §3.3.
const (
	DefaultTCPIdleTimeout = 350 * time.Second
	DefaultIdleTimeout    = 120 * time.Second // UDP and every other protocol
	DefaultShards         = 16
)

// Config is a flow table's configuration. The zero value is the AWS
// default: 5-tuple stickiness, 350 s for TCP, 120 s for the rest.
//
// The table applies timeouts as given; the AWS limits (TCP 60–6000 s and
// only with 5-tuple stickiness, others fixed at 120 s) are checked where the
// lab configuration is validated, so tests and scenarios may shorten them.
type Config struct {
	Mode           Mode
	TCPIdleTimeout time.Duration // zero means DefaultTCPIdleTimeout
	IdleTimeout    time.Duration // UDP and other protocols; zero means DefaultIdleTimeout
	Seed           uint64        // hash seed: the same seed replays the same choices
	Shards         int           // a power of two; zero means DefaultShards
	// Limit, when set, caps the flows this table holds; tables that share
	// one Limit share its cap (a GWLB node's tables, one per endpoint).
	Limit *Limit
}

// ErrFull is Insert's answer when the table's Limit is reached: the flow is
// not created, and flows already held are untouched.
var ErrFull = errors.New("flow table full")

// Limit is a cap on the number of flows held by one or more tables. An
// expired flow counts until Expire (or Delete) removes it: the cap bounds
// memory, and memory is freed only then.
type Limit struct {
	max  int64
	used atomic.Int64
}

// NewLimit returns a cap of max flows; max must be positive.
func NewLimit(max int) (*Limit, error) {
	if max <= 0 {
		return nil, fmt.Errorf("flow limit %d: must be positive", max)
	}
	return &Limit{max: int64(max)}, nil
}

// Max returns the cap.
func (l *Limit) Max() int { return int(l.max) }

// Used returns the number of flows held under the cap.
func (l *Limit) Used() int { return int(l.used.Load()) }

// take reserves room for one flow, or reports that there is none. A nil
// Limit always has room.
func (l *Limit) take() bool {
	if l == nil {
		return true
	}
	if l.used.Add(1) > l.max {
		l.used.Add(-1)
		return false
	}
	return true
}

func (l *Limit) release(n int) {
	if l != nil && n > 0 {
		l.used.Add(-int64(n))
	}
}

// Entry is one flow as the table reports it: a copy, so holding it never
// races with the table.
type Entry struct {
	Key       packet.FlowKey // the initiator's key, as given to Insert
	Target    int            // the caller's target index
	Cookie    uint32         // the GENEVE flow cookie
	OuterPort uint16         // GENEVE outer UDP source port (OuterPort of the flow hash)
	TCP       bool           // created by a TCP packet: TCP idle timeout applies
	// Pinned marks a flow created while no target was healthy: it stays on
	// its target, which must become healthy before it carries anything
	// (spec §4.3). The caller sets it with Retarget.
	Pinned   bool
	Created  time.Duration // clock readings, see the package doc
	LastSeen time.Duration
	Packets  [2]uint64 // indexed by Dir
	Bytes    [2]uint64 // indexed by Dir
}

type slot struct {
	e       Entry
	k       Key
	swapped bool // whether the initiator's key was swapped by Normalize
	live    bool
}

// shard is one lock's worth of flows. Entries live in slots; the map points
// into it, so the map holds no pointers and freed slots are reused.
type shard struct {
	mu    sync.Mutex
	m     map[Key]int32
	slots []slot
	free  []int32
	limit *Limit
	_     [64]byte // keep neighbouring shards' locks off one cache line
}

// Table is the flow table of one GWLB node. It is safe for concurrent use:
// every per-flow method locks only the shard of that flow; Expire, All,
// DeleteFunc and Len visit the shards one after another, so they see each
// shard at a different instant, never the whole table frozen.
type Table struct {
	cfg    Config
	shards []shard
	mask   uint64

	sweepMu  sync.Mutex // serialises Expire, which reuses sweepBuf
	sweepBuf []Entry
}

// New returns an empty table, or an error if cfg is invalid.
func New(cfg Config) (*Table, error) {
	if cfg.Mode > TwoTuple {
		return nil, fmt.Errorf("flow table: unknown stickiness %v", cfg.Mode)
	}
	if cfg.TCPIdleTimeout < 0 || cfg.IdleTimeout < 0 {
		return nil, errors.New("flow table: negative idle timeout")
	}
	if cfg.TCPIdleTimeout == 0 {
		cfg.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Shards == 0 {
		cfg.Shards = DefaultShards
	}
	if cfg.Shards < 0 || cfg.Shards&(cfg.Shards-1) != 0 {
		return nil, fmt.Errorf("flow table: %d shards is not a power of two", cfg.Shards)
	}
	t := &Table{cfg: cfg, shards: make([]shard, cfg.Shards), mask: uint64(cfg.Shards - 1)}
	for i := range t.shards {
		t.shards[i].m = map[Key]int32{}
		t.shards[i].limit = cfg.Limit
	}
	return t, nil
}

// Config returns the table's configuration with defaults filled in.
func (t *Table) Config() Config { return t.cfg }

// Hash returns the symmetric flow hash of fk under the table's mode and
// seed: the value target selection uses for a new flow, and from which the
// entry's OuterPort is derived.
func (t *Table) Hash(fk packet.FlowKey) uint64 {
	k, _ := Normalize(fk, t.cfg.Mode)
	return k.Hash(t.cfg.Seed)
}

func (t *Table) locate(fk packet.FlowKey) (k Key, swapped bool, h uint64, s *shard) {
	k, swapped = Normalize(fk, t.cfg.Mode)
	h = k.Hash(t.cfg.Seed)
	// Bits 32.. pick the shard: selection uses the low bits and OuterPort
	// the top ones, so no shard ends up with one target's flows only.
	return k, swapped, h, &t.shards[(h>>32)&t.mask]
}

func (t *Table) timeout(e *Entry) time.Duration {
	if e.TCP {
		return t.cfg.TCPIdleTimeout
	}
	return t.cfg.IdleTimeout
}

// expired reports whether e has been idle for its whole timeout at now. An
// expired entry is gone for every purpose, even before Expire removes it.
func (t *Table) expired(e *Entry, now time.Duration) bool {
	return now-e.LastSeen >= t.timeout(e)
}

func dir(swapped, initiatorSwapped bool) Dir {
	if swapped != initiatorSwapped {
		return Reply
	}
	return Original
}

// Lookup returns the live flow of fk at now and fk's direction in it. It
// changes nothing; use Touch to count a packet.
func (t *Table) Lookup(fk packet.FlowKey, now time.Duration) (Entry, Dir, bool) {
	k, swapped, _, s := t.locate(fk)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.m[k]
	if !ok || t.expired(&s.slots[i].e, now) {
		return Entry{}, Original, false
	}
	sl := &s.slots[i]
	return sl.e, dir(swapped, sl.swapped), true
}

// Touch records a packet of size bytes on the live flow of fk: it counts
// the packet in its direction and restarts the idle timer (any packet, in
// either direction, keeps a flow alive). It returns the updated entry and
// the packet's direction, or false if fk has no live flow.
func (t *Table) Touch(fk packet.FlowKey, now time.Duration, size int) (Entry, Dir, bool) {
	k, swapped, _, s := t.locate(fk)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.m[k]
	if !ok || t.expired(&s.slots[i].e, now) {
		return Entry{}, Original, false
	}
	sl := &s.slots[i]
	d := dir(swapped, sl.swapped)
	count(&sl.e, d, now, size)
	return sl.e, d, true
}

func count(e *Entry, d Dir, now time.Duration, size int) {
	// Workers read the clock before taking the lock, so readings can arrive
	// slightly out of order; the timer never runs backwards.
	e.LastSeen = max(e.LastSeen, now)
	e.Packets[d]++
	e.Bytes[d] += uint64(max(size, 0))
}

// Insert creates the flow of fk, initiated by fk's sender, with the given
// target and cookie, and counts fk's packet of size bytes in it. If a live
// flow already exists (another worker created it first, or the caller did
// not look), Insert counts the packet on that flow instead and returns it
// with created false: the first insert wins and both directions keep one
// target. An expired flow of the same key is replaced. When the table's
// Limit is reached, Insert creates nothing and returns ErrFull.
func (t *Table) Insert(fk packet.FlowKey, now time.Duration, target int, cookie uint32, size int) (e Entry, d Dir, created bool, err error) {
	k, swapped, h, s := t.locate(fk)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.m[k]
	if ok && !t.expired(&s.slots[i].e, now) {
		sl := &s.slots[i]
		d := dir(swapped, sl.swapped)
		count(&sl.e, d, now, size)
		return sl.e, d, false, nil
	}
	if !ok {
		// Replacing an expired flow of the same key reuses its room; only
		// a new key needs more.
		if !s.limit.take() {
			return Entry{}, Original, false, ErrFull
		}
		if n := len(s.free); n > 0 {
			i, s.free = s.free[n-1], s.free[:n-1]
		} else {
			i = int32(len(s.slots))
			s.slots = append(s.slots, slot{})
		}
		s.m[k] = i
	}
	sl := &s.slots[i]
	*sl = slot{
		e: Entry{
			Key:       fk,
			Target:    target,
			Cookie:    cookie,
			OuterPort: OuterPort(h),
			TCP:       fk.Proto == ProtoTCP,
			Created:   now,
			LastSeen:  now,
		},
		k:       k,
		swapped: swapped,
		live:    true,
	}
	count(&sl.e, Original, now, size)
	return sl.e, Original, true, nil
}

func (s *shard) remove(i int32) {
	delete(s.m, s.slots[i].k)
	s.slots[i] = slot{}
	s.free = append(s.free, i)
	s.limit.release(1)
}

// Delete removes the flow of fk, live or expired, and reports whether there
// was one. The node uses it for a TCP reset on a flow not in the table and
// when a target's flows must go.
func (t *Table) Delete(fk packet.FlowKey) bool {
	k, _, _, s := t.locate(fk)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.m[k]
	if ok {
		s.remove(i)
	}
	return ok
}

// Retarget moves the live flow of fk to target and sets its Pinned mark,
// keeping its cookie, outer port and counters (a rebalance, spec §4.4). It
// reports whether the flow exists.
func (t *Table) Retarget(fk packet.FlowKey, now time.Duration, target int, pinned bool) bool {
	k, _, _, s := t.locate(fk)
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.m[k]
	if !ok || t.expired(&s.slots[i].e, now) {
		return false
	}
	s.slots[i].e.Target, s.slots[i].e.Pinned = target, pinned
	return true
}

// DeleteFunc removes every flow for which del returns true and returns how
// many it removed (e.g. the flows of a deregistered target when rebalancing).
// del runs with a shard locked: it must not call methods of t.
func (t *Table) DeleteFunc(del func(Entry) bool) int {
	n := 0
	for si := range t.shards {
		s := &t.shards[si]
		s.mu.Lock()
		for i := range s.slots {
			if s.slots[i].live && del(s.slots[i].e) {
				s.remove(int32(i))
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// Expire removes every flow idle for its protocol's timeout at now and
// calls fn (if not nil) with each removed entry, after releasing the
// shard's lock, so fn may call back into t (to send a TCP reset, count, or
// log). It returns the number of flows removed. Sweeps are serialised.
func (t *Table) Expire(now time.Duration, fn func(Entry)) int {
	t.sweepMu.Lock()
	defer t.sweepMu.Unlock()
	n := 0
	for si := range t.shards {
		s := &t.shards[si]
		buf := t.sweepBuf[:0]
		s.mu.Lock()
		for i := range s.slots {
			if sl := &s.slots[i]; sl.live && t.expired(&sl.e, now) {
				buf = append(buf, sl.e)
				s.remove(int32(i))
			}
		}
		s.mu.Unlock()
		n += len(buf)
		if fn != nil {
			for _, e := range buf {
				fn(e)
			}
		}
		clear(buf) // drop references to zone handles
		t.sweepBuf = buf[:0]
	}
	return n
}

// WalkChunk is how many flows Walk copies per lock hold when the caller
// gives no buffer.
const WalkChunk = 64

// Walk calls fn with a copy of every live flow at now, shard by shard, and
// reports whether it reached the end (fn returns false to stop). It copies
// at most len(buf) flows per lock hold into buf (WalkChunk into a buffer of
// its own if buf is empty), so a listing of any size needs buf's memory
// only, and no lock is held while fn runs. The walk is not a snapshot: a
// flow created or removed meanwhile may or may not be seen, but flows never
// move, so none is seen twice.
func (t *Table) Walk(now time.Duration, buf []Entry, fn func(*Entry) bool) bool {
	if len(buf) == 0 {
		buf = make([]Entry, WalkChunk)
	}
	defer clear(buf) // drop references to zone handles
	for si := range t.shards {
		s := &t.shards[si]
		for next, done := 0, false; !done; {
			n := 0
			s.mu.Lock()
			for next < len(s.slots) && n < len(buf) {
				if sl := &s.slots[next]; sl.live && !t.expired(&sl.e, now) {
					buf[n] = sl.e
					n++
				}
				next++
			}
			done = next >= len(s.slots)
			s.mu.Unlock()
			for i := range buf[:n] {
				if !fn(&buf[i]) {
					return false
				}
			}
		}
	}
	return true
}

// All yields a copy of every live flow at now, as Walk visits them.
func (t *Table) All(now time.Duration) iter.Seq[Entry] {
	return func(yield func(Entry) bool) {
		t.Walk(now, nil, func(e *Entry) bool { return yield(*e) })
	}
}

// Live returns the number of live flows at now, without copying any.
func (t *Table) Live(now time.Duration) int {
	n := 0
	for si := range t.shards {
		s := &t.shards[si]
		s.mu.Lock()
		for i := range s.slots {
			if sl := &s.slots[i]; sl.live && !t.expired(&sl.e, now) {
				n++
			}
		}
		s.mu.Unlock()
	}
	return n
}

// Len returns the number of flows held, including expired ones Expire has
// not removed yet.
func (t *Table) Len() int {
	n := 0
	for si := range t.shards {
		s := &t.shards[si]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
