package port

import "errors"

// Port is one ENI's frame I/O. A Port may be used by one reading goroutine
// and one writing goroutine at once; Close may be called from any goroutine
// at any time.
type Port interface {
	// Read waits for at least one frame and reads up to len(bufs) of them,
	// frame i into bufs[i][offset:], its length into sizes[i]. It returns
	// the number of frames read. Each buffer must hold offset + MTU() +
	// FrameOverhead bytes. After Close (and when Close interrupts it), Read
	// returns an error for which errors.Is(err, os.ErrClosed) holds.
	Read(bufs [][]byte, sizes []int, offset int) (n int, err error)
	// Write sends bufs[i][offset:] for every i, each a whole Ethernet
	// frame, and returns how many it sent; on error, frames from the
	// returned index on were not sent. The port keeps no reference to bufs.
	Write(bufs [][]byte, offset int) (int, error)
	// BatchSize is the largest number of frames one Read returns; callers
	// size their buffer arrays with it. It never changes.
	BatchSize() int
	// MTU is the interface's IP MTU; frames are up to MTU()+FrameOverhead
	// bytes long.
	MTU() int
	// Name is the interface name (or the pipe's name).
	Name() string
	// Close releases the port and interrupts a pending Read. It is
	// idempotent: later calls return nil.
	Close() error
}

const (
	// Headroom is the offset the emulator reads frames at: room for the
	// outer Ethernet, IPv4, UDP and GENEVE headers and GWLB's 32 bytes of
	// options (14+20+8+8+32 = 82), rounded up.
	Headroom = 128
	// FrameOverhead is what a frame adds to its IP packet: the Ethernet
	// header and one 802.1Q tag.
	FrameOverhead = 14 + 4
)

// ErrFrameTooLong is returned by Pipe.Write for a frame longer than
// MTU()+FrameOverhead, which no real link would carry.
var ErrFrameTooLong = errors.New("frame longer than the link's MTU")
