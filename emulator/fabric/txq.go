package fabric

import (
	"sync"
	"sync/atomic"
)

// Writing to a port. Every port has one writer goroutine that alone calls
// its Write, fed by a bounded queue (txQueue) that the readers of all ports
// (and the delay queue's timer) fill. A reader never waits for a node: a
// node whose port writes slowly (its stack busy, its kernel queue full)
// delays only the frames queued for it, never the reader that carries
// frames between two other nodes. When a port's queue is full the frame is
// dropped and counted (port_queue_full, and the port's queue_full), as a
// real link's transmit queue drops: blocking the reader instead would hand
// the slow node's delay to every node that sends through that reader.
//
// The queue is a ring of TxQueueLen slots; a frame costs one copy into a
// buffer that a slot holds until the frame is written, when the buffer goes
// back to the queue's free list. Buffers are allocated only when the free
// list is empty, so a queue owns as many as it ever held frames at once,
// and nothing is allocated per frame. A reader hands over all frames of one read batch for
// a port in one push (one lock, one wake-up), and the writer takes whatever
// is queued, up to txWriteBatch frames, in one Write. Frames keep the order
// in which they were pushed, and one reader pushes the frames of a flow in
// the order it read them, so a flow is never reordered.

// TxQueueLen is how many frames a port's write queue holds; a frame that
// finds it full is dropped (port_queue_full).
const TxQueueLen = 512

// txWriteBatch bounds the frames of one Write call.
const txWriteBatch = 64

// txQueue is a port's write queue. Slots [head, head+n) (mod len) hold
// frames: the writer's current batch first, then frames waiting. Producers
// only fill slots past head+n, so the writer reads its batch unlocked.
type txQueue struct {
	mu      sync.Mutex
	slots   [][]byte // each frame at [Headroom:Headroom+lens[i]]; nil when free
	lens    []int
	free    [][]byte // buffers of written frames, the last written on top
	head, n int
	closed  bool
	// wake holds a token when frames may be waiting for the writer.
	wake chan struct{}
	// full counts frames dropped because the ring was full.
	full atomic.Uint64
	// slotLen is the capacity each slot is allocated with.
	slotLen int
	// out is the writer's batch (its own, not the producers').
	out [][]byte
}

func newTxQueue(mtu int) *txQueue {
	return &txQueue{
		slots: make([][]byte, TxQueueLen), lens: make([]int, TxQueueLen), free: make([][]byte, 0, TxQueueLen),
		wake: make(chan struct{}, 1), slotLen: Headroom + mtu + 64,
		out: make([][]byte, 0, txWriteBatch),
	}
}

// push copies frames (each frames[i][off:]) into the ring, in order, and
// wakes the writer. It returns how many it dropped because the ring was
// full, or, all of them, because the queue is closed.
func (q *txQueue) push(frames [][]byte, off int) (dropped int, closed bool) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return len(frames), true
	}
	for _, b := range frames {
		f := b[off:]
		if q.n == len(q.slots) {
			dropped++
			continue
		}
		var s []byte
		if k := len(q.free); k > 0 && len(q.free[k-1]) >= Headroom+len(f) {
			s = q.free[k-1]
			q.free = q.free[:k-1]
		} else {
			s = make([]byte, max(q.slotLen, Headroom+len(f)))
		}
		i := (q.head + q.n) % len(q.slots)
		q.slots[i] = s
		q.lens[i] = copy(s[Headroom:], f)
		q.n++
	}
	q.mu.Unlock()
	if dropped < len(frames) {
		select {
		case q.wake <- struct{}{}:
		default: // a token is already there
		}
	}
	return dropped, false
}

// next waits for frames and returns the writer's next batch (slices of the
// ring, frames at offset Headroom), or false once the queue is closed.
func (q *txQueue) next() ([][]byte, bool) {
	q.mu.Lock()
	for q.n == 0 && !q.closed {
		q.mu.Unlock()
		<-q.wake
		q.mu.Lock()
	}
	if q.closed {
		q.mu.Unlock()
		return nil, false
	}
	k := min(q.n, txWriteBatch)
	q.out = q.out[:0]
	for j := range k {
		i := (q.head + j) % len(q.slots)
		q.out = append(q.out, q.slots[i][:Headroom+q.lens[i]])
	}
	q.mu.Unlock()
	return q.out, true
}

// done frees the slots of the batch next returned.
func (q *txQueue) done(k int) {
	q.mu.Lock()
	for j := range k {
		i := (q.head + j) % len(q.slots)
		if len(q.free) < cap(q.free) {
			q.free = append(q.free, q.slots[i])
		}
		q.slots[i] = nil
	}
	q.head = (q.head + k) % len(q.slots)
	q.n -= k
	q.mu.Unlock()
}

// len returns how many frames are queued, the writer's batch included.
func (q *txQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// close stops the writer; frames still queued are not written.
func (q *txQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// writeLoop is a port's writer: it writes what the queue holds until the
// queue is closed.
func (f *Fabric) writeLoop(ps *portState, q *txQueue) {
	for {
		out, ok := q.next()
		if !ok {
			return
		}
		f.write(ps, out, Headroom)
		q.done(len(out))
	}
}

// send writes frames (frames[i][off:]) to ps: through its writer when it
// has one, else (a fabric that is not running, as in unit tests that call
// the worker directly) at once. It returns why frames were dropped, ok
// when none was.
func (f *Fabric) send(ps *portState, frames [][]byte, off int) (why Reason, ok bool) {
	q := ps.txq.Load()
	if q == nil {
		return DropPortWrite, f.write(ps, frames, off)
	}
	d, closed := q.push(frames, off)
	switch {
	case d == 0:
		return 0, true
	case closed:
		// The node left or the emulator is stopping.
		f.drops[DropPortWrite].Add(uint64(d))
		return DropPortWrite, false
	default:
		q.full.Add(uint64(d))
		f.drops[DropPortQueueFull].Add(uint64(d))
		return DropPortQueueFull, false
	}
}

// stopWriter closes ps's write queue and waits for its writer to return.
// Frames sent to ps from then on are dropped (port_write_failed). Callers
// hold no lock the writer could need.
func (ps *portState) stopWriter() {
	q := ps.txq.Load()
	if q == nil {
		return
	}
	q.close()
	<-ps.wdone
}
