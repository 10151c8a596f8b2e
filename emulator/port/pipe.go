package port

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// PipeQueueLen is how many frames a Pipe end holds unread before it drops.
const PipeQueueLen = 256

// Pipe is one end of an in-memory link made by NewPipe: what one end
// writes, the other reads, in order. Like a real link it never blocks a
// writer: frames for a full queue or a closed peer are dropped and counted
// (see Drops). Frames are copied into preallocated slots, so nothing
// allocates per frame.
type Pipe struct {
	name string
	mtu  int
	rx   *queue // frames for this end
	tx   *queue // the peer's rx
}

// queue is a ring of frame slots with one reader.
type queue struct {
	mu     sync.Mutex
	ready  sync.Cond // signalled when a frame arrives or the reader closes
	slots  [][]byte  // each of cap MTU+FrameOverhead
	lens   []int
	head   int // next slot to read
	n      int // frames queued
	closed bool
	drops  uint64
}

func newQueue(frameLen int) *queue {
	q := &queue{slots: make([][]byte, PipeQueueLen), lens: make([]int, PipeQueueLen)}
	q.ready.L = &q.mu
	for i := range q.slots {
		q.slots[i] = make([]byte, frameLen)
	}
	return q
}

// NewPipe returns the two ends of an in-memory link with the given IP MTU.
// End a is called name and end b name+"-peer".
func NewPipe(name string, mtu int) (a, b Port) {
	ab, ba := newQueue(mtu+FrameOverhead), newQueue(mtu+FrameOverhead)
	return &Pipe{name: name, mtu: mtu, rx: ba, tx: ab},
		&Pipe{name: name + "-peer", mtu: mtu, rx: ab, tx: ba}
}

func (p *Pipe) Name() string   { return p.name }
func (p *Pipe) MTU() int       { return p.mtu }
func (p *Pipe) BatchSize() int { return 64 }

// Read implements Port. A frame that does not fit its buffer stays queued
// and Read returns the frames before it with io.ErrShortBuffer.
func (p *Pipe) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	q := p.rx
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n == 0 && !q.closed {
		q.ready.Wait()
	}
	if q.closed {
		return 0, os.ErrClosed
	}
	n := 0
	for n < len(bufs) && n < len(sizes) && q.n > 0 {
		l := q.lens[q.head]
		if len(bufs[n])-offset < l {
			return n, fmt.Errorf("pipe %q: %d-byte frame, %d-byte buffer: %w", p.name, l, len(bufs[n])-offset, io.ErrShortBuffer)
		}
		sizes[n] = copy(bufs[n][offset:], q.slots[q.head][:l])
		q.head = (q.head + 1) % len(q.slots)
		q.n--
		n++
	}
	return n, nil
}

// Write implements Port.
func (p *Pipe) Write(bufs [][]byte, offset int) (int, error) {
	if p.closed() {
		return 0, os.ErrClosed
	}
	q := p.tx
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, b := range bufs {
		f := b[offset:]
		if len(f) > p.mtu+FrameOverhead {
			return i, fmt.Errorf("pipe %q: %d bytes: %w", p.name, len(f), ErrFrameTooLong)
		}
		if q.closed || q.n == len(q.slots) {
			q.drops++
			continue
		}
		tail := (q.head + q.n) % len(q.slots)
		q.lens[tail] = copy(q.slots[tail], f)
		q.n++
	}
	q.ready.Signal()
	return len(bufs), nil
}

func (p *Pipe) closed() bool {
	p.rx.mu.Lock()
	defer p.rx.mu.Unlock()
	return p.rx.closed
}

// Close implements Port. The peer end stays open; what it writes from now
// on is dropped.
func (p *Pipe) Close() error {
	q := p.rx
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.n = 0
	q.ready.Broadcast()
	return nil
}

// Drops returns how many frames written to this end's peer were dropped
// because this end's queue was full or closed.
func (p *Pipe) Drops() uint64 {
	p.rx.mu.Lock()
	defer p.rx.mu.Unlock()
	return p.rx.drops
}
