package port

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"
)

// TAPBatchSize is how many frames one TAP Read returns at most: the frames
// already queued when the poller wakes the reader are drained in one call.
const TAPBatchSize = 32

// TAP is a Port on a persistent TAP interface inside a node's network
// namespace. The lab creates the interface; OpenTAP attaches to it and
// Close detaches, leaving the interface in place.
type TAP struct {
	name     string
	mtu      int
	f        *os.File
	rc       syscall.RawConn
	stats    *linkStats // the interface's kernel counters; nil if statsErr
	statsErr error

	closed    atomic.Bool
	closeOnce sync.Once

	// Read and Write each pass a callback to RawConn; the callbacks are
	// method values made once in OpenTAP and work on the fields below, so
	// no closure is allocated per call. rmu and wmu make concurrent Reads
	// (or Writes) safe, though the Port contract does not need it.
	rmu    sync.Mutex
	rbufs  [][]byte
	rsizes []int
	roff   int
	rn     int
	rerr   error
	readFn func(uintptr) bool

	wmu     sync.Mutex
	wbufs   [][]byte
	woff    int
	wn      int
	werr    error
	writeFn func(uintptr) bool
}

// OpenTAP attaches to the existing TAP interface ifname in the network
// namespace at netnsPath (e.g. /var/run/netns/gwlb-lab-web). It opens
// /dev/net/tun on a fresh thread inside that namespace (ns.Do), attaches
// with IFF_TAP|IFF_NO_PI and no virtio-net header, and reads the
// interface's MTU. It fails rather than create an interface that does not
// exist, and if another process holds the TAP (EBUSY).
func OpenTAP(netnsPath, ifname string) (*TAP, error) {
	if netnsPath == "" {
		return nil, fmt.Errorf("open tap %q: no network namespace given", ifname)
	}
	var fd, mtu int
	var stats *linkStats
	var statsErr error
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		var err error
		var index int
		mtu, index, err = interfaceMTU(ifname)
		if err != nil {
			return err
		}
		if fd, err = attachTAP(ifname); err != nil {
			return err
		}
		// Without its counters the port still works; QueueDrops says why
		// they are missing.
		stats, statsErr = openLinkStats(index)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open tap %q in %q: %w", ifname, netnsPath, err)
	}
	// The descriptor is non-blocking, so os.NewFile registers it with the
	// runtime poller: a blocked Read parks the goroutine, not a thread, and
	// Close wakes it.
	f := os.NewFile(uintptr(fd), "tap:"+ifname)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		if stats != nil {
			stats.close()
		}
		return nil, fmt.Errorf("open tap %q in %q: %w", ifname, netnsPath, err)
	}
	t := &TAP{name: ifname, mtu: mtu, f: f, rc: rc, stats: stats, statsErr: statsErr}
	t.readFn = t.doRead
	t.writeFn = t.doWrite
	return t, nil
}

// interfaceMTU checks that ifname exists in the current namespace (so the
// TUNSETIFF that follows attaches instead of creating) and returns its MTU
// and index.
func interfaceMTU(ifname string) (mtu, index int, err error) {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(ifname)
	if err != nil {
		return 0, 0, err
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, 0, fmt.Errorf("no interface %q: %w", ifname, err)
	}
	index = int(ifr.Uint32())
	ifr, _ = unix.NewIfreq(ifname)
	if err := unix.IoctlIfreq(s, unix.SIOCGIFMTU, ifr); err != nil {
		return 0, 0, fmt.Errorf("mtu of %q: %w", ifname, err)
	}
	return int(ifr.Uint32()), index, nil
}

func attachTAP(ifname string) (int, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(ifname)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EINVAL) {
			return -1, fmt.Errorf("attach: %q is not a single-queue TAP: %w", ifname, err)
		}
		return -1, fmt.Errorf("attach: %w", err)
	}
	return fd, nil
}

// QueueDrops returns the frames the kernel dropped at the TAP since it was
// opened (see QueueDrops).
func (t *TAP) QueueDrops() (QueueDrops, error) {
	if t.stats == nil {
		return QueueDrops{}, t.statsErr
	}
	return t.stats.drops()
}

func (t *TAP) Name() string   { return t.name }
func (t *TAP) MTU() int       { return t.mtu }
func (t *TAP) BatchSize() int { return TAPBatchSize }

// Read implements Port.
func (t *TAP) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	t.rmu.Lock()
	defer t.rmu.Unlock()
	t.rbufs, t.rsizes, t.roff, t.rn, t.rerr = bufs, sizes, offset, 0, nil
	err := t.rc.Read(t.readFn)
	n, rerr := t.rn, t.rerr
	t.rbufs, t.rsizes = nil, nil
	if n > 0 {
		return n, nil // a read error after some frames shows up on the next call
	}
	if t.closed.Load() {
		return 0, os.ErrClosed
	}
	if err == nil {
		err = rerr
	}
	return 0, fmt.Errorf("read tap %q: %w", t.name, err)
}

// doRead drains the frames queued on the descriptor into the buffers. It
// returns false (wait for readability) only while it has read nothing.
func (t *TAP) doRead(fd uintptr) bool {
	limit := min(len(t.rbufs), len(t.rsizes))
	for t.rn < limit {
		n, err := unix.Read(int(fd), t.rbufs[t.rn][t.roff:])
		switch err {
		case nil:
			t.rsizes[t.rn] = n
			t.rn++
		case unix.EINTR:
		case unix.EAGAIN:
			return t.rn > 0
		default:
			t.rerr = err
			return true
		}
	}
	return true
}

// Write implements Port.
func (t *TAP) Write(bufs [][]byte, offset int) (int, error) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.wbufs, t.woff, t.wn, t.werr = bufs, offset, 0, nil
	err := t.rc.Write(t.writeFn)
	n, werr := t.wn, t.werr
	t.wbufs = nil
	if n == len(bufs) {
		return n, nil
	}
	if t.closed.Load() {
		return n, os.ErrClosed
	}
	if err == nil {
		err = werr
	}
	return n, fmt.Errorf("write tap %q: %w", t.name, err)
}

func (t *TAP) doWrite(fd uintptr) bool {
	for t.wn < len(t.wbufs) {
		_, err := unix.Write(int(fd), t.wbufs[t.wn][t.woff:])
		switch err {
		case nil:
			t.wn++
		case unix.EINTR:
		case unix.EAGAIN:
			return false // the kernel's queue is full: wait until writable
		default:
			t.werr = err
			return true
		}
	}
	return true
}

// Close implements Port: it detaches from the TAP (which stays, down to no
// carrier, until the lab removes it) and interrupts a pending Read.
func (t *TAP) Close() error {
	var err error
	t.closeOnce.Do(func() {
		t.closed.Store(true)
		err = t.f.Close()
		if t.stats != nil {
			t.stats.close()
		}
	})
	return err
}
