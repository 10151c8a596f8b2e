package fabric

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Link impairment: what the emulator does to the frames of one node's link
// (its eth0 port), since the lab's kernel may have no netem. Down drops
// every frame to and from the node; loss and delay apply to the frames the
// fabric delivers to the node (its receive direction): a node's own frames
// enter unimpaired, so impairing both ends of a conversation impairs both
// directions. With no impairment set a port costs one atomic load per frame.

// LinkImpairment is the impairment of one node's link.
type LinkImpairment struct {
	// Down drops every frame to and from the node (link_down).
	Down bool
	// LossPercent is the chance, 0 to 100, that a frame to the node is
	// lost (link_loss).
	LossPercent float64
	// Delay holds each frame to the node for Delay, give or take a
	// uniformly drawn Jitter (at most Delay), in lab time. Frames keep their
	// order: a frame never leaves before the one queued ahead of it.
	Delay, Jitter time.Duration
}

// IsZero reports whether the impairment does nothing.
func (l LinkImpairment) IsZero() bool { return l == LinkImpairment{} }

// Limits of an impairment.
const (
	// MaxLinkDelay bounds a link's delay and its jitter.
	MaxLinkDelay = time.Minute
	// DelayQueueLen is how many frames a port's delay queue holds; a frame
	// that finds it full is dropped (link_queue_full), as a real link's
	// buffer would.
	DelayQueueLen = 1024
)

// ErrInvalid marks a request the emulator refuses as invalid.
var ErrInvalid = errors.New("invalid")

// Validate checks the impairment's ranges.
func (l LinkImpairment) Validate() error {
	switch {
	case math.IsNaN(l.LossPercent) || l.LossPercent < 0 || l.LossPercent > 100:
		return fmt.Errorf("%w: loss must be a percentage from 0 to 100, got %v", ErrInvalid, l.LossPercent)
	case l.Delay < 0 || l.Delay > MaxLinkDelay:
		return fmt.Errorf("%w: delay must be from 0 to %s, got %s", ErrInvalid, MaxLinkDelay, l.Delay)
	case l.Jitter < 0:
		return fmt.Errorf("%w: jitter must not be negative, got %s", ErrInvalid, l.Jitter)
	case l.Jitter > 0 && l.Delay == 0:
		return fmt.Errorf("%w: jitter varies a delay: set a delay too", ErrInvalid)
	case l.Jitter > l.Delay:
		return fmt.Errorf("%w: jitter %s is longer than the delay %s it varies", ErrInvalid, l.Jitter, l.Delay)
	}
	return nil
}

// impairment is a port's compiled LinkImpairment; immutable once stored.
type impairment struct {
	cfg LinkImpairment
	// A frame is lost when the worker's generator draws below lossBelow;
	// lossAll loses every one (2^64 does not fit).
	lossBelow uint64
	lossAll   bool
	dq        *delayQueue // nil without a delay
}

// linkCounters count what the impairment of one port did.
type linkCounters struct {
	down, loss, queueFull, delayed atomic.Uint64
}

// SetLink sets the impairment of node's link; a zero one clears it. Frames
// already delayed still leave at their time.
func (f *Fabric) SetLink(node string, l LinkImpairment) error {
	return f.UpdateLink(node, func(LinkImpairment) LinkImpairment { return l })
}

// UpdateLink sets the impairment of node's link to what change makes of
// the current one, in one step: concurrent updates of one link do not
// lose each other's changes.
func (f *Fabric) UpdateLink(node string, change func(LinkImpairment) LinkImpairment) error {
	ps, ok := f.portMap()[node]
	if !ok {
		return fmt.Errorf("node %q: %w", node, ErrNotFound)
	}
	ps.impMu.Lock()
	defer ps.impMu.Unlock()
	l := change(ps.impCfg)
	if err := l.Validate(); err != nil {
		return err
	}
	if l.IsZero() {
		ps.imp.Store(nil)
		ps.impCfg = LinkImpairment{}
		return nil
	}
	imp := &impairment{cfg: l}
	switch {
	case l.LossPercent >= 100:
		imp.lossAll = true
	case l.LossPercent > 0:
		imp.lossBelow = uint64(l.LossPercent / 100 * (1 << 64))
	}
	if l.Delay > 0 {
		if ps.dq == nil {
			ps.dq = newDelayQueue(f, ps)
		}
		imp.dq = ps.dq
	}
	ps.impCfg = l
	ps.imp.Store(imp)
	return nil
}

// LinkStatus is one node's link: its impairment and what it did.
type LinkStatus struct {
	Node string
	LinkImpairment
	// Dropped counts frames dropped by reason (link_down, link_loss,
	// link_queue_full) since the emulator started; Delayed the frames
	// held, Queued those held now.
	DroppedDown, DroppedLoss, DroppedQueueFull uint64
	Delayed                                    uint64
	Queued                                     int
}

// Link returns one node's link.
func (f *Fabric) Link(node string) (LinkStatus, error) {
	ps, ok := f.portMap()[node]
	if !ok {
		return LinkStatus{}, fmt.Errorf("node %q: %w", node, ErrNotFound)
	}
	return ps.linkStatus(), nil
}

// Links returns every node's link, by node name.
func (f *Fabric) Links() []LinkStatus {
	ports := f.portMap()
	out := make([]LinkStatus, 0, len(ports))
	for _, ps := range ports {
		out = append(out, ps.linkStatus())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}

func (ps *portState) linkStatus() LinkStatus {
	ps.impMu.Lock()
	st := LinkStatus{Node: ps.node, LinkImpairment: ps.impCfg}
	dq := ps.dq
	ps.impMu.Unlock()
	st.DroppedDown, st.DroppedLoss = ps.link.down.Load(), ps.link.loss.Load()
	st.DroppedQueueFull, st.Delayed = ps.link.queueFull.Load(), ps.link.delayed.Load()
	if dq != nil {
		st.Queued = dq.len()
	}
	return st
}

// seedRand gives the worker of a port its own generator: no lock is shared
// between ports, and a fixed Options.Seed makes every port's draws
// repeatable.
func (w *worker) seedRand(node string) {
	var h uint64 = 14695981039346656037 // FNV-1a of the node name
	for i := range len(node) {
		h = (h ^ uint64(node[i])) * 1099511628211
	}
	w.rng = rand.NewPCG(w.f.seed, h)
}

// impaired applies ps's impairment to a frame on its way to the node. It
// reports whether the caller should write the frame now; otherwise the
// frame was dropped, or copied into the delay queue, which writes it later.
func (w *worker) impaired(ps *portState, imp *impairment, frame []byte) bool {
	switch {
	case imp.cfg.Down:
		ps.link.down.Add(1)
		w.drop(DropLinkDown)
		return false
	case imp.lossAll || (imp.lossBelow > 0 && w.rng.Uint64() < imp.lossBelow):
		ps.link.loss.Add(1)
		w.drop(DropLinkLoss)
		return false
	case imp.dq == nil:
		return true
	}
	d := imp.cfg.Delay
	if j := imp.cfg.Jitter; j > 0 {
		// Uniform in [delay-jitter, delay+jitter]; jitter <= delay.
		d += time.Duration(w.rng.Uint64()%uint64(2*j+1)) - j
	}
	if !imp.dq.push(frame, d) {
		ps.link.queueFull.Add(1)
		w.drop(DropLinkQueueFull)
		return false
	}
	ps.link.delayed.Add(1)
	if w.tr != nil {
		w.outcome("delayed %s on the link, then delivered to %s", d, ps.node)
	}
	return false
}

// delayQueue holds the frames of one port's delayed link: a ring of
// DelayQueueLen slots whose buffers are allocated on first use and reused,
// so a delayed frame costs one copy. A timer releases the frames whose time
// has come, in order; nothing waits in a port's goroutine.
type delayQueue struct {
	f     *Fabric
	ps    *portState
	mu    sync.Mutex
	slots []delayedFrame
	head  int
	n     int
	last  time.Time // due time of the newest frame: no frame leaves before it
	timer *time.Timer
	out   [][]byte
}

type delayedFrame struct {
	buf []byte
	due time.Time // wall clock
}

func newDelayQueue(f *Fabric, ps *portState) *delayQueue {
	q := &delayQueue{f: f, ps: ps, slots: make([]delayedFrame, DelayQueueLen), out: make([][]byte, 1)}
	q.timer = time.AfterFunc(time.Hour, q.release)
	q.timer.Stop()
	return q
}

func (q *delayQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// push copies frame into the queue, to leave after lab duration d (or
// after the frame before it). It reports false when the queue is full.
func (q *delayQueue) push(frame []byte, d time.Duration) bool {
	now := time.Now()
	due := now.Add(q.f.wall(d))
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.n == len(q.slots) {
		return false
	}
	if due.Before(q.last) {
		due = q.last
	}
	q.last = due
	s := &q.slots[(q.head+q.n)%len(q.slots)]
	if cap(s.buf) < len(frame) {
		s.buf = make([]byte, len(frame), max(len(frame), Headroom+q.ps.p.MTU()+64))
	}
	s.buf = s.buf[:len(frame)]
	copy(s.buf, frame)
	s.due = due
	q.n++
	if q.n == 1 {
		q.timer.Reset(due.Sub(now))
	}
	return true
}

// release sends every frame whose time has come to the port's writer and
// sets the timer for the next. Frames are sent with the lock held, so two
// releases (a timer reset while one runs) cannot reorder them.
func (q *delayQueue) release() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n > 0 {
		s := &q.slots[q.head]
		if wait := time.Until(s.due); wait > 0 {
			q.timer.Reset(wait)
			return
		}
		q.out[0] = s.buf
		q.f.send(q.ps, q.out, 0)
		q.head = (q.head + 1) % len(q.slots)
		q.n--
	}
}

// write writes frames (out[i][off:]) to ps and counts them, or the
// failures: a frame the port refuses is dropped (port_write_failed) and
// the frames after it are still written. Only ps's writer calls it once
// Run started it (txq.go). It reports whether every frame was written.
func (f *Fabric) write(ps *portState, out [][]byte, off int) bool {
	ok := true
	for len(out) > 0 {
		n, err := ps.p.Write(out, off)
		n = min(max(n, 0), len(out))
		f.wrote(ps, out[:n], off)
		if err == nil {
			break
		}
		ok = false
		f.drop(DropPortWrite)
		if !ps.removed.Load() { // a frame on its way when the node left
			f.writeFailed(ps, err)
		}
		if n == len(out) {
			break
		}
		out = out[n+1:]
	}
	return ok
}

// wrote counts frames written to ps and hands them to its captures.
func (f *Fabric) wrote(ps *portState, out [][]byte, off int) {
	if len(out) == 0 {
		return
	}
	var bytes uint64
	for _, b := range out {
		bytes += uint64(len(b) - off)
		ps.caps.tap(b[off:], true)
	}
	// One add per counter for the batch.
	ps.txPkts.Add(uint64(len(out)))
	ps.txBytes.Add(bytes)
}

// wall converts a lab duration to wall-clock time when the clock runs
// faster or slower than real time.
func (f *Fabric) wall(d time.Duration) time.Duration {
	if s, ok := f.clock.(interface {
		Wall(time.Duration) time.Duration
	}); ok {
		return s.Wall(d)
	}
	return d
}
