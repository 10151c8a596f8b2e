package port

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"
)

// BenchmarkPort measures the two ways DESIGN §1 allows to connect a node to
// the emulator, both ways, for small and full-size frames:
//
//	tap:  a TAP in the node's namespace; the emulator reads and writes
//	      /dev/net/tun (the TAP port of this package).
//	veth: a veth pair, one end in the node's namespace, the other in the
//	      emulator's; the emulator uses an AF_PACKET socket on its end,
//	      batched with recvmmsg/sendmmsg (afPacket below, which exists only
//	      for this comparison).
//
// The node's side is the same in both cases, an afPacket on the node's
// interface, so it sends and receives in batches and the port is what runs
// out of breath first. node-to-emulator reports the frames/s the port reads while the node
// sends as fast as it can; emulator-to-node reports the frames/s the port
// writes, and "delivered" the fraction the node received. Results and the
// choice are in docs/benchmarks.md. Needs root; skipped otherwise.
func BenchmarkPort(b *testing.B) {
	if !isRoot() {
		b.Skip(rootReason)
	}
	for _, kind := range []string{"tap", "veth"} {
		env := newBenchEnv(b, kind)
		for _, size := range []int{60, 1514} {
			b.Run(fmt.Sprintf("%s/node-to-emulator/%dB", kind, size), func(b *testing.B) { env.nodeToEmulator(b, size) })
			b.Run(fmt.Sprintf("%s/emulator-to-node/%dB", kind, size), func(b *testing.B) { env.emulatorToNode(b, size) })
		}
	}
}

type benchEnv struct {
	port  Port
	node  *afPacket
	recvd atomic.Uint64 // frames the node received
}

func newBenchEnv(b *testing.B, kind string) *benchEnv {
	b.Helper()
	must := func(err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}
	newNS := func(tag string) string {
		name := uniqueName(tag)
		path, err := createNetNS(name)
		must(err)
		b.Cleanup(func() { must(deleteNetNS(name)) })
		return path
	}
	env := &benchEnv{}
	var err error
	switch kind {
	case "tap":
		node := newNS("bnode")
		must(createTAP(node, "n0"))
		b.Cleanup(func() { must(deleteLink(node, "n0")) })
		_, err = linkUp(node, "n0", 1500, "")
		must(err)
		env.port, err = OpenTAP(node, "n0")
		must(err)
		env.node, err = openAFPacket(node, "n0")
		must(err)
	case "veth":
		node, emu := newNS("bnode"), newNS("bemu")
		must(createVeth(node, "n0", emu, "e0"))
		b.Cleanup(func() { must(deleteLink(node, "n0")) })
		_, err = linkUp(node, "n0", 1500, "")
		must(err)
		_, err = linkUp(emu, "e0", 1500, "")
		must(err)
		env.port, err = openAFPacket(emu, "e0")
		must(err)
		env.node, err = openAFPacket(node, "n0")
		must(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		bufs, sizes := frames(afBatch, 1500)
		for {
			n, err := env.node.Read(bufs, sizes, Headroom)
			if err != nil {
				return
			}
			env.recvd.Add(uint64(n))
		}
	}()
	b.Cleanup(func() {
		env.port.Close()
		env.node.Close()
		wg.Wait()
	})
	return env
}

func testFrame(size int) []byte {
	f := ethernet(bcastMAC, srcMAC, etherTest, make([]byte, size-14))
	for i := 14; i < len(f); i++ {
		f[i] = byte(i)
	}
	return f
}

var (
	bcastMAC = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	srcMAC   = []byte{0x02, 0, 0, 0, 0, 0x01}
)

func (env *benchEnv) nodeToEmulator(b *testing.B, size int) {
	frame := testFrame(size)
	stop := make(chan struct{})
	var sent atomic.Uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		out := make([][]byte, afBatch)
		for i := range out {
			out[i] = append(make([]byte, Headroom), frame...)
		}
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, _ := env.node.Write(out, Headroom)
			sent.Add(uint64(n))
		}
	}()
	bufs, sizes := frames(env.port.BatchSize(), env.port.MTU())
	read := func(n int) int {
		got := 0
		for got < n {
			k, err := env.port.Read(bufs, sizes, Headroom)
			if err != nil {
				b.Fatal(err)
			}
			got += k
		}
		return got
	}
	read(2000) // warm up, and drain what an earlier run left queued
	sent.Store(0)
	b.ResetTimer()
	got := read(b.N)
	b.StopTimer()
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "frames/s")
	if s := sent.Load(); s > 0 {
		b.ReportMetric(min(1, float64(got)/float64(s)), "delivered")
	}
}

func (env *benchEnv) emulatorToNode(b *testing.B, size int) {
	frame := testFrame(size)
	out := make([][]byte, env.port.BatchSize())
	for i := range out {
		out[i] = append(make([]byte, Headroom), frame...)
	}
	settle := func() uint64 {
		for last := env.recvd.Load(); ; {
			time.Sleep(20 * time.Millisecond)
			now := env.recvd.Load()
			if now == last {
				return now
			}
			last = now
		}
	}
	before := settle()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(out) {
		// ENOBUFS: the link dropped the rest of the batch, like a full
		// NIC queue; "delivered" shows it.
		if _, err := env.port.Write(out[:min(len(out), b.N-i)], Headroom); err != nil && !errors.Is(err, unix.ENOBUFS) {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(settle()-before)/float64(b.N), "delivered")
}

// afPacket is an AF_PACKET Port on the emulator's end of a veth, kept in
// the tests only: it lost the comparison (docs/benchmarks.md). It batches
// with recvmmsg/sendmmsg, its best case.
type afPacket struct {
	name  string
	mtu   int
	f     *os.File
	rc    syscall.RawConn
	close sync.Once

	rmsgs  []unix.Mmsghdr
	riov   []unix.Iovec
	rbufs  [][]byte
	roff   int
	rn     int
	rerr   error
	readFn func(uintptr) bool

	wmsgs   []unix.Mmsghdr
	wiov    []unix.Iovec
	wbufs   [][]byte
	woff    int
	wn      int
	werr    error
	writeFn func(uintptr) bool
}

const afBatch = 32

func openAFPacket(path, ifname string) (*afPacket, error) {
	var fd, mtu int
	err := ns.WithNetNSPath(path, func(ns.NetNS) error {
		var err error
		if mtu, _, err = interfaceMTU(ifname); err != nil {
			return err
		}
		fd, err = openPacketSocket(ifname)
		return err
	})
	if err != nil {
		return nil, err
	}
	p := &afPacket{
		name: ifname, mtu: mtu, f: os.NewFile(uintptr(fd), "packet:"+ifname),
		rmsgs: make([]unix.Mmsghdr, afBatch), riov: make([]unix.Iovec, afBatch),
		wmsgs: make([]unix.Mmsghdr, afBatch), wiov: make([]unix.Iovec, afBatch),
	}
	if p.rc, err = p.f.SyscallConn(); err != nil {
		p.f.Close()
		return nil, err
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
	p.readFn, p.writeFn = p.doRead, p.doWrite
	return p, nil
}

func (p *afPacket) Name() string   { return p.name }
func (p *afPacket) MTU() int       { return p.mtu }
func (p *afPacket) BatchSize() int { return afBatch }
func (p *afPacket) Close() error {
	var err error
	p.close.Do(func() { err = p.f.Close() })
	return err
}

func (p *afPacket) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	n := min(len(bufs), len(sizes), afBatch)
	for i := range n {
		p.riov[i].Base = &bufs[i][offset]
		p.riov[i].SetLen(len(bufs[i]) - offset)
		p.rmsgs[i] = unix.Mmsghdr{Hdr: unix.Msghdr{Iov: &p.riov[i], Iovlen: 1}}
	}
	p.rbufs, p.roff, p.rn, p.rerr = bufs[:n], offset, 0, nil
	err := p.rc.Read(p.readFn)
	if err == nil {
		err = p.rerr
	}
	if err != nil {
		return 0, err
	}
	for i := range p.rn {
		sizes[i] = int(p.rmsgs[i].Len)
	}
	return p.rn, nil
}

func (p *afPacket) doRead(fd uintptr) bool {
	r, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&p.rmsgs[0])), uintptr(len(p.rbufs)), unix.MSG_DONTWAIT, 0, 0)
	switch errno {
	case 0:
		p.rn = int(r)
		return true
	case unix.EAGAIN, unix.EINTR:
		return false
	default:
		p.rerr = errno
		return true
	}
}

func (p *afPacket) Write(bufs [][]byte, offset int) (int, error) {
	sent := 0
	for sent < len(bufs) {
		n := min(len(bufs)-sent, afBatch)
		for i := range n {
			b := bufs[sent+i]
			p.wiov[i].Base = &b[offset]
			p.wiov[i].SetLen(len(b) - offset)
			p.wmsgs[i] = unix.Mmsghdr{Hdr: unix.Msghdr{Iov: &p.wiov[i], Iovlen: 1}}
		}
		p.wbufs, p.woff, p.wn, p.werr = bufs[sent:sent+n], offset, 0, nil
		err := p.rc.Write(p.writeFn)
		sent += p.wn
		if err == nil {
			err = p.werr
		}
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

func (p *afPacket) doWrite(fd uintptr) bool {
	for p.wn < len(p.wbufs) {
		r, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&p.wmsgs[p.wn])), uintptr(len(p.wbufs)-p.wn), 0, 0, 0)
		switch errno {
		case 0:
			p.wn += int(r)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default: // including ENOBUFS: the driver's queue is full, the frame is dropped
			p.werr = errno
			return true
		}
	}
	return true
}
