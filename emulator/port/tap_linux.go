package port

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/gwlb-lab/gwlb-lab/emulator/offload"
	"golang.org/x/sys/unix"
)

// TAPBatchSize is how many frames one TAP Read returns at most: the frames
// already queued when the poller wakes the reader are drained in one call,
// and a GSO super-frame of up to 64 KB is split into as many of them.
const TAPBatchSize = 64

// TAPQueues is how many queues OpenTAP attaches to a multi-queue TAP (at
// most GOMAXPROCS): each is read by its own goroutine (Queues), and the
// node's kernel puts each flow it sends on one queue, so a flow's frames
// keep their order.
const TAPQueues = 2

// maxSuperFrame is the longest frame a TAP with offloads hands over: an IP
// packet of 64 KB and its Ethernet header with a tag.
const maxSuperFrame = 65535 + FrameOverhead

// TAP is a Port on a persistent TAP interface inside a node's network
// namespace. The lab creates the interface; OpenTAP attaches to it and
// Close detaches, leaving the interface in place.
//
// The TAP is opened with a virtio-net header and offers the node's kernel
// checksum, TCP segmentation (TSO4/6) and, where the kernel has it, UDP
// segmentation (USO4/6) offloads: the node hands over up to 64 KB per frame,
// which Read splits back into the MTU-sized packets the node would have
// sent (emulator/offload), so nothing behind the port sees a frame longer
// than MTU()+FrameOverhead. Write merges runs of TCP segments of one flow
// into one GSO frame, as the node's own GRO would (offload.Coalescer), and,
// on a port that asked for it (CoalesceUDP), runs of UDP datagrams of one
// flow into one USO frame.
type TAP struct {
	name     string
	mtu      int
	f        *os.File
	rc       syscall.RawConn
	stats    *linkStats // the interface's kernel counters; nil if statsErr
	statsErr error
	offloads Offloads

	closed    atomic.Bool
	closeOnce sync.Once

	// queues are the further queues of a multi-queue TAP, each a TAP of
	// its own on another descriptor of the same interface, only read
	// (Queues); this TAP is queue 0 and does every Write. nil on those
	// further queues themselves.
	queues []*TAP
	// On a TAP of several queues: steer, shared by all of them, says which
	// queue to write each frame on; qi is this queue's index; parts are
	// queue 0's Write's frames by queue (smu).
	steer *steering
	qi    int
	smu   sync.Mutex
	parts [][][]byte

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
	rhdr   [offload.HdrLen]byte
	riov   [3]unix.Iovec
	// rbig takes what of a frame does not fit the caller's buffer: a GSO
	// super-frame is read into the caller's buffer and on into
	// rbig[rspare:], then the first part is copied to rbig[:rspare] before
	// it so the super-frame is whole for seg, which keeps it between Reads
	// while its segments do not fit the buffers of one.
	rbig   []byte
	rspare int
	seg    offload.Segmenter

	wmu     sync.Mutex
	wbufs   [][]byte
	woff    int
	wn      int // frames written
	witem   int // next item of the plan to write
	wsub    int // in an item being written frame by frame, the next frame; -1 otherwise
	werr    error
	writeFn func(uintptr) bool
	co      offload.Coalescer
	whdr    [offload.MaxHeader]byte
	wiov    []unix.Iovec
	gro     atomic.Bool // coalesce writes; off once the kernel refused a GSO frame
	udp     atomic.Bool // coalesce UDP too (CoalesceUDP); off once the kernel refused a USO frame

	// What the offloads did; see OffloadStats.
	superFrames, segments, gsoDrops, coalesced, coalescedUDP atomic.Uint64
	groErr, udpErr                                           atomic.Pointer[string]
}

// Offloads says what a TAP negotiated with the node's kernel.
type Offloads struct {
	// VnetHdr: frames carry a virtio-net header (IFF_VNET_HDR). Without
	// it there are no offloads.
	VnetHdr bool `json:"vnet_hdr"`
	// Flags are the TUN_F_* offloads the kernel accepted, by name
	// ("csum", "tso4", "tso6", "uso4", "uso6").
	Flags []string `json:"flags,omitempty"`
	// Refused is why an offload was not taken ("" if all were).
	Refused string `json:"refused,omitempty"`
	// Queues is how many queues of the TAP the port reads, each on its
	// own goroutine; SingleQueue says why it is one (a TAP made without
	// IFF_MULTI_QUEUE, by an older lab), or "".
	Queues      int    `json:"queues"`
	SingleQueue string `json:"single_queue,omitempty"`
}

func (o Offloads) String() string {
	q := fmt.Sprintf("; %d queues", o.Queues)
	if o.Queues == 1 {
		q = "; 1 queue"
	}
	if o.SingleQueue != "" {
		q += " (" + o.SingleQueue + ")"
	}
	if !o.VnetHdr {
		return "none (" + o.Refused + ")" + q
	}
	s := "vnet_hdr"
	for _, f := range o.Flags {
		s += "," + f
	}
	if o.Refused != "" {
		s += " (" + o.Refused + ")"
	}
	return s + q
}

// OpenTAP attaches to the existing TAP interface ifname in the network
// namespace at netnsPath (e.g. /var/run/netns/gwlb-lab-web). It opens
// /dev/net/tun on a fresh thread inside that namespace (ns.Do), attaches
// with IFF_TAP|IFF_NO_PI|IFF_VNET_HDR, on a multi-queue TAP as
// min(TAPQueues, GOMAXPROCS) queues (a single-queue TAP, made by an older
// lab, gets one, which Offloads says), offers the node's kernel the
// offloads it takes (see Offloads; a kernel that refuses the header gets a
// TAP without any) and reads the interface's MTU. It fails rather than
// create an interface that does not exist, and if another process holds
// the TAP (EBUSY).
func OpenTAP(netnsPath, ifname string) (*TAP, error) {
	return openTAP(netnsPath, ifname, true, max(1, min(TAPQueues, runtime.GOMAXPROCS(0))))
}

// openTAP is OpenTAP with up to queues queues; without offload it attaches
// as a kernel without virtio-net headers would have it (the tests' and
// benchmarks' baseline).
func openTAP(netnsPath, ifname string, withOffload bool, queues int) (*TAP, error) {
	if netnsPath == "" {
		return nil, fmt.Errorf("open tap %q: no network namespace given", ifname)
	}
	var fds []int
	var mtu int
	var stats *linkStats
	var statsErr error
	var offs Offloads
	err := ns.WithNetNSPath(netnsPath, func(ns.NetNS) error {
		var err error
		var index int
		mtu, index, err = interfaceMTU(ifname)
		if err != nil {
			return err
		}
		// A multi-queue TAP takes any number of readers: refuse one that
		// another process (an emulator still running) already reads, as
		// the kernel does for a single-queue TAP (EBUSY).
		if n, err := attachedQueues(index); err == nil && n > 0 {
			return fmt.Errorf("attach: %d queues of %q are attached by another process: %w", n, ifname, unix.EBUSY)
		}
		fd, o, err := attachTAP(ifname, withOffload, unix.IFF_MULTI_QUEUE)
		if errors.Is(err, unix.EINVAL) {
			// A TAP made without IFF_MULTI_QUEUE takes one queue only.
			if fd, o, err = attachTAP(ifname, withOffload, 0); err != nil {
				return err
			}
			o.SingleQueue = "single-queue TAP: made by an older lab; `down` and `up` make it multi-queue"
			queues = 1
		} else if err != nil {
			return err
		}
		offs = o
		fds = append(fds, fd)
		for len(fds) < queues {
			fd, o, err := attachTAP(ifname, withOffload, unix.IFF_MULTI_QUEUE)
			if err != nil || o.VnetHdr != offs.VnetHdr {
				if err == nil {
					unix.Close(fd)
					err = errors.New("its offloads differ from the first queue's")
				}
				offs.SingleQueue = fmt.Sprintf("queue %d not attached: %v", len(fds), err)
				break
			}
			fds = append(fds, fd)
		}
		offs.Queues = len(fds)
		// Without its counters the port still works; QueueDrops says why
		// they are missing.
		stats, statsErr = openLinkStats(index)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("open tap %q in %q: %w", ifname, netnsPath, err)
	}
	var t *TAP
	for i, fd := range fds {
		q, err := newTAPQueue(fd, ifname, mtu, offs)
		if err != nil {
			for _, fd := range fds[i+1:] {
				unix.Close(fd)
			}
			if t != nil {
				t.Close()
			}
			if stats != nil {
				stats.close()
			}
			return nil, fmt.Errorf("open tap %q in %q: %w", ifname, netnsPath, err)
		}
		if t == nil {
			t = q
		} else {
			q.qi = len(t.queues) + 1
			t.queues = append(t.queues, q)
		}
	}
	t.stats, t.statsErr = stats, statsErr
	if len(t.queues) > 0 {
		t.steer = new(steering)
		t.parts = make([][][]byte, 1+len(t.queues))
		for _, q := range t.queues {
			q.steer = t.steer
		}
	}
	return t, nil
}

// newTAPQueue makes the TAP of one attached descriptor.
func newTAPQueue(fd int, ifname string, mtu int, offs Offloads) (*TAP, error) {
	// The descriptor is non-blocking, so os.NewFile registers it with the
	// runtime poller: a blocked Read parks the goroutine, not a thread, and
	// Close wakes it.
	f := os.NewFile(uintptr(fd), "tap:"+ifname)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	t := &TAP{name: ifname, mtu: mtu, f: f, rc: rc, offloads: offs, wsub: -1}
	t.rspare = mtu + FrameOverhead
	t.rbig = make([]byte, t.rspare+maxSuperFrame)
	t.gro.Store(offs.VnetHdr)
	t.readFn = t.doRead
	t.writeFn = t.doWrite
	return t, nil
}

// Reader is one receive queue of a port: Read and BatchSize as a Port's.
type Reader interface {
	Read(bufs [][]byte, sizes []int, offset int) (n int, err error)
	BatchSize() int
}

// Queues returns the TAP's receive queues, the TAP itself first: each may
// be read by its own goroutine (the TAP's Read reads queue 0 only). A
// flow's frames all arrive on one queue, in order; frames of different
// flows on different queues have no order between them. Close closes
// every queue and interrupts their Reads.
func (t *TAP) Queues() []Reader {
	r := make([]Reader, 0, 1+len(t.queues))
	r = append(r, t)
	for _, q := range t.queues {
		r = append(r, q)
	}
	return r
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

// tunOffloads are the offloads offered to the node's kernel, most first:
// checksum and TCP segmentation, plus UDP segmentation on kernels that
// have it (6.2 on). A kernel that refuses a set is offered the next.
var tunOffloads = []struct {
	flags int
	names []string
}{
	{unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6 | unix.TUN_F_USO4 | unix.TUN_F_USO6, []string{"csum", "tso4", "tso6", "uso4", "uso6"}},
	{unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6, []string{"csum", "tso4", "tso6"}},
	{unix.TUN_F_CSUM, []string{"csum"}},
}

// attachTAP attaches a descriptor to the TAP ifname with IFF_TAP|IFF_NO_PI,
// IFF_VNET_HDR if withOffload and the kernel takes it, and multi (0 or
// IFF_MULTI_QUEUE, which must match how the TAP was made: EINVAL if not).
func attachTAP(ifname string, withOffload bool, multi uint16) (int, Offloads, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return -1, Offloads{}, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	setIFF := func(flags uint16) error {
		ifr, err := unix.NewIfreq(ifname)
		if err != nil {
			return err
		}
		ifr.SetUint16(flags | multi)
		return unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
	}
	var offs Offloads
	if withOffload {
		err = setIFF(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR)
	} else {
		offs.Refused = "not asked for"
		err = setIFF(unix.IFF_TAP | unix.IFF_NO_PI)
	}
	if err == nil && withOffload {
		if herr := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, offload.HdrLen); herr != nil {
			// The header stays at its default size, which this port does
			// not speak: start over without it.
			unix.Close(fd)
			if fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0); err != nil {
				return -1, Offloads{}, fmt.Errorf("open /dev/net/tun: %w", err)
			}
			offs.Refused = "TUNSETVNETHDRSZ: " + herr.Error()
			err = setIFF(unix.IFF_TAP | unix.IFF_NO_PI)
		} else {
			offs.VnetHdr = true
		}
	} else if withOffload && errors.Is(err, unix.EINVAL) {
		// A kernel without virtio-net headers on TAPs; or not a TAP at all,
		// which the plain attach says.
		offs.Refused = "IFF_VNET_HDR: " + err.Error()
		err = setIFF(unix.IFF_TAP | unix.IFF_NO_PI)
	}
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EINVAL) {
			return -1, Offloads{}, fmt.Errorf("attach: %q is not a TAP of this lab (IFF_TAP|IFF_NO_PI): %w", ifname, err)
		}
		return -1, Offloads{}, fmt.Errorf("attach: %w", err)
	}
	if offs.VnetHdr {
		for i, o := range tunOffloads {
			err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, o.flags)
			if err == nil {
				offs.Flags = o.names
				break
			}
			if i == 0 {
				offs.Refused = "TUNSETOFFLOAD " + strings.Join(o.names, ",") + ": " + err.Error()
			}
		}
	} else {
		// A TAP left with offloads by an earlier attach would hand this
		// one frames it cannot read.
		unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, 0)
	}
	return fd, offs, nil
}

// Offloads returns what the TAP negotiated with the node's kernel.
func (t *TAP) Offloads() Offloads { return t.offloads }

// OffloadStats is what a TAP's offloads did since it was opened.
type OffloadStats struct {
	// Negotiated is Offloads().String().
	Negotiated string
	// SuperFrames are the GSO frames the node handed over, Segments the
	// packets Read split them into.
	SuperFrames, Segments uint64
	// Dropped are frames from the node Read could not split or complete
	// (a GSO type or header it does not know), each dropped whole.
	Dropped uint64
	// Coalesced are the writes toward the node that carried a run of
	// several TCP segments as one GSO frame.
	Coalesced uint64
	// CoalesceOff is why coalescing stopped (the kernel refused a
	// coalesced frame; every frame is written alone since), or "".
	CoalesceOff string
	// CoalescedUDP are the writes that carried a run of several UDP
	// datagrams as one USO frame (only on a port with CoalesceUDP);
	// CoalesceUDPOff is why that did not start or stopped, or "".
	CoalescedUDP   uint64
	CoalesceUDPOff string
}

// CoalesceUDP turns on (or off) merging runs of UDP datagrams of one flow
// into one USO frame (VIRTIO_NET_HDR_GSO_UDP_L4) on Write. Only a node
// that reads those datagrams through UDP sockets should have it: the
// kernel hands a socket the datagrams as they were (split at the socket,
// or as a train to a socket with UDP_GRO), but a capture or an AF_PACKET
// reader in the node sees the merged frame. It fails, leaving it off, when
// the TAP has no USO (the kernel refused uso4/uso6 at attach, or the TAP
// has no virtio-net header).
func (t *TAP) CoalesceUDP(on bool) error {
	if !on {
		t.udp.Store(false)
		for _, q := range t.queues {
			q.udp.Store(false)
		}
		return nil
	}
	for _, f := range t.offloads.Flags {
		if f == "uso4" {
			t.udp.Store(true)
			for _, q := range t.queues {
				q.udp.Store(true)
			}
			return nil
		}
	}
	msg := "the node's kernel did not take USO: " + t.offloads.String()
	t.udpErr.Store(&msg)
	return fmt.Errorf("coalesce udp on tap %q: %s", t.name, msg)
}

// OffloadStats returns what the TAP's offloads did.
func (t *TAP) OffloadStats() OffloadStats {
	o := OffloadStats{
		Negotiated: t.offloads.String(), SuperFrames: t.superFrames.Load(), Segments: t.segments.Load(),
		Dropped: t.gsoDrops.Load(), Coalesced: t.coalesced.Load(), CoalescedUDP: t.coalescedUDP.Load(),
	}
	for _, q := range t.queues {
		o.SuperFrames += q.superFrames.Load()
		o.Segments += q.segments.Load()
		o.Dropped += q.gsoDrops.Load()
		o.Coalesced += q.coalesced.Load()
		o.CoalescedUDP += q.coalescedUDP.Load()
		if e := q.groErr.Load(); e != nil && o.CoalesceOff == "" {
			o.CoalesceOff = *e
		}
		if e := q.udpErr.Load(); e != nil && o.CoalesceUDPOff == "" {
			o.CoalesceUDPOff = *e
		}
	}
	if e := t.groErr.Load(); e != nil {
		o.CoalesceOff = *e
	}
	if e := t.udpErr.Load(); e != nil {
		o.CoalesceUDPOff = *e
	}
	return o
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
	if t.steer != nil {
		for i := range n {
			t.steer.note(bufs[i][offset:offset+sizes[i]], t.qi)
		}
	}
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

// doRead fills the buffers with the segments of a super-frame left from
// the last call, then with the frames queued on the descriptor. It returns
// false (wait for readability) only while it has read nothing.
func (t *TAP) doRead(fd uintptr) bool {
	limit := min(len(t.rbufs), len(t.rsizes))
	for t.rn < limit {
		if t.seg.Pending() {
			t.nextSegment()
			continue
		}
		buf := t.rbufs[t.rn][t.roff:]
		iov := t.riov[:]
		if !t.offloads.VnetHdr {
			iov = iov[1:]
		}
		if len(buf) > t.rspare { // a caller with larger buffers than the MTU asks
			t.rspare = len(buf)
			t.rbig = make([]byte, t.rspare+maxSuperFrame)
		}
		t.riov[0].Base, t.riov[0].Len = &t.rhdr[0], offload.HdrLen
		t.riov[1].Base, t.riov[1].Len = unsafe.SliceData(buf), uint64(len(buf))
		t.riov[2].Base, t.riov[2].Len = &t.rbig[t.rspare], uint64(maxSuperFrame)
		r, _, e := unix.Syscall(unix.SYS_READV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(len(iov)))
		runtime.KeepAlive(buf)
		switch e {
		case 0:
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return t.rn > 0
		default:
			t.rerr = e
			return true
		}
		n := int(r)
		if !t.offloads.VnetHdr {
			if n > len(buf) {
				continue // longer than any frame of this link: not the node's
			}
			t.rsizes[t.rn] = n
			t.rn++
			continue
		}
		if n -= offload.HdrLen; n < 0 {
			continue
		}
		h := offload.ParseHdr(t.rhdr[:])
		if h.GSOType == offload.GSONone {
			if n > len(buf) || offload.CompleteChecksum(buf[:n], h) != nil {
				t.gsoDrops.Add(1)
				continue
			}
			t.rsizes[t.rn] = n
			t.rn++
			continue
		}
		// A super-frame: make it whole in rbig and split it.
		k := min(n, len(buf))
		copy(t.rbig[t.rspare-k:t.rspare], buf[:k])
		if t.seg.Reset(t.rbig[t.rspare-k:t.rspare+n-k], h) != nil {
			t.gsoDrops.Add(1)
			continue
		}
		t.superFrames.Add(1)
		t.nextSegment()
	}
	return true
}

// nextSegment writes the next segment of the pending super-frame into the
// next buffer; a segment no buffer can hold drops the super-frame's rest.
func (t *TAP) nextSegment() {
	n, err := t.seg.Next(t.rbufs[t.rn][t.roff:])
	if err != nil {
		t.seg = offload.Segmenter{}
		t.gsoDrops.Add(1)
		return
	}
	t.rsizes[t.rn] = n
	t.rn++
	t.segments.Add(1)
}

// Write implements Port. With offloads, runs of TCP segments of one flow
// (and with CoalesceUDP, of UDP datagrams of one flow) go to the node as
// one frame each (offload.Coalescer); frames of one flow
// keep their order, frames of different flows may not. On error, the
// returned count is of frames sent, which need not be the first ones.
//
// On a TAP of several queues each frame goes on the queue its flow is
// read on (see steering), the frames of each queue in one write call.
func (t *TAP) Write(bufs [][]byte, offset int) (int, error) {
	if t.steer == nil {
		return t.write(bufs, offset)
	}
	t.smu.Lock()
	defer t.smu.Unlock()
	for _, b := range bufs {
		q := t.steer.queue(b[offset:], len(t.parts))
		t.parts[q] = append(t.parts[q], b)
	}
	sent := 0
	var err error
	for q, part := range t.parts {
		if len(part) > 0 && err == nil {
			w := t
			if q > 0 {
				w = t.queues[q-1]
			}
			var n int
			n, err = w.write(part, offset)
			sent += n
		}
		clear(part) // keep no reference to the frames
		t.parts[q] = part[:0]
	}
	return sent, err
}

// write writes bufs on this queue.
func (t *TAP) write(bufs [][]byte, offset int) (int, error) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.wbufs, t.woff, t.wn, t.werr, t.witem, t.wsub = bufs, offset, 0, nil, 0, -1
	if t.gro.Load() && len(bufs) > 1 {
		t.co.UDP = t.udp.Load()
		t.co.Plan(bufs, offset)
	} else {
		t.co.Plan(nil, offset) // no items: every frame alone
	}
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

// zeroHdr is the virtio-net header of a frame that is neither GSO nor
// partially checksummed.
var zeroHdr [offload.HdrLen]byte

// doWrite writes the plan's items (or, without a plan, every frame) from
// where the last call stopped. It returns false when the kernel's queue is
// full, to wait until it is writable.
func (t *TAP) doWrite(fd uintptr) bool {
	if t.co.Items() == 0 {
		for t.wn < len(t.wbufs) {
			switch e := t.writeOne(fd, t.wbufs[t.wn][t.woff:]); e {
			case 0:
				t.wn++
			case unix.EINTR:
			case unix.EAGAIN:
				return false
			default:
				t.werr = e
				return true
			}
		}
		return true
	}
	for t.witem < t.co.Items() {
		first, count := t.co.Item(t.witem)
		udp := t.co.UDPRun(t.witem)
		if count > 1 && t.wsub < 0 && (udp && t.udp.Load() || !udp && t.gro.Load()) {
			switch e := t.writeRun(fd, first); e {
			case 0:
				t.wn += count
				t.witem++
				if udp {
					t.coalescedUDP.Add(1)
				} else {
					t.coalesced.Add(1)
				}
				continue
			case unix.EINTR:
				continue
			case unix.EAGAIN:
				return false
			default:
				// The kernel refused the GSO frame: write this run and all
				// later ones (of TCP, or of UDP) frame by frame.
				if udp {
					t.udp.Store(false)
					msg := fmt.Sprintf("the kernel refused a USO frame of %d datagrams: %v", count, e)
					t.udpErr.Store(&msg)
				} else {
					t.gro.Store(false)
					msg := fmt.Sprintf("the kernel refused a coalesced frame of %d segments: %v", count, e)
					t.groErr.Store(&msg)
				}
				t.wsub = first
			}
		}
		if t.wsub < 0 {
			t.wsub = first
		}
		for t.wsub >= 0 {
			switch e := t.writeOne(fd, t.wbufs[t.wsub][t.woff:]); e {
			case 0:
				t.wn++
				t.wsub = t.co.Next(t.wsub)
			case unix.EINTR:
			case unix.EAGAIN:
				return false
			default:
				t.werr = e
				return true
			}
		}
		t.witem++
	}
	return true
}

// writeOne writes one frame as it is.
func (t *TAP) writeOne(fd uintptr, frame []byte) unix.Errno {
	if !t.offloads.VnetHdr {
		_, err := unix.Write(int(fd), frame)
		if err != nil {
			return err.(unix.Errno)
		}
		return 0
	}
	t.wiov = append(t.wiov[:0],
		unix.Iovec{Base: &zeroHdr[0], Len: offload.HdrLen},
		unix.Iovec{Base: unsafe.SliceData(frame), Len: uint64(len(frame))})
	_, _, e := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&t.wiov[0])), uintptr(len(t.wiov)))
	runtime.KeepAlive(frame)
	return e
}

// writeRun writes the run of frames that item starts at frame first as one
// GSO frame: the coalesced header, then each frame's payload in place.
func (t *TAP) writeRun(fd uintptr, first int) unix.Errno {
	n := t.co.Header(t.witem, t.wbufs[first][t.woff:], t.whdr[:])
	t.wiov = append(t.wiov[:0], unix.Iovec{Base: &t.whdr[0], Len: uint64(n)})
	for j := first; j >= 0; j = t.co.Next(j) {
		p := t.co.Payload(t.wbufs[j][t.woff:], j)
		t.wiov = append(t.wiov, unix.Iovec{Base: unsafe.SliceData(p), Len: uint64(len(p))})
	}
	_, _, e := unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&t.wiov[0])), uintptr(len(t.wiov)))
	runtime.KeepAlive(t.wbufs)
	return e
}

// Close implements Port: it detaches every queue from the TAP (which stays,
// down to no carrier, until the lab removes it) and interrupts pending
// Reads on all of them.
func (t *TAP) Close() error {
	var err error
	t.closeOnce.Do(func() {
		for _, q := range t.queues {
			q.closed.Store(true)
			err = errors.Join(err, q.f.Close())
		}
		t.closed.Store(true)
		if len(t.offloads.Flags) > 0 {
			// Take the offloads back, so that whoever attaches next without
			// a virtio-net header is not handed super-frames.
			t.rc.Control(func(fd uintptr) { unix.IoctlSetInt(int(fd), unix.TUNSETOFFLOAD, 0) })
		}
		err = errors.Join(t.f.Close(), err)
		if t.stats != nil {
			t.stats.close()
		}
	})
	return err
}
