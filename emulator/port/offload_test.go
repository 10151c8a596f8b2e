package port

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// wiredPair is two nodes, 192.0.2.1 and .2, each with a TAP whose port is
// relayed to the other's: every batch one port reads is written to the
// other in one Write, as the fabric does.
type wiredPair struct {
	paths   [2]string
	taps    [2]*TAP
	longest atomic.Int64 // the longest frame the relay saw
	wg      sync.WaitGroup
}

// newWiredPair makes the pair; cleanup registers what undoes each step.
func newWiredPair(mtu int, withOffload bool, cleanup func(any, ...any)) (*wiredPair, error) {
	w := &wiredPair{}
	for i, ip := range []string{"192.0.2.1/24", "192.0.2.2/24"} {
		name := uniqueName(fmt.Sprint("off", i))
		path, err := createNetNS(name)
		if err != nil {
			return nil, err
		}
		cleanup(deleteNetNS, name)
		if err := createTAP(path, "eth0"); err != nil {
			return nil, err
		}
		cleanup(deleteLink, path, "eth0")
		if _, err := linkUp(path, "eth0", mtu, ip); err != nil {
			return nil, err
		}
		if w.taps[i], err = openTAP(path, "eth0", withOffload, 1); err != nil {
			return nil, err
		}
		cleanup(w.taps[i].Close)
		w.paths[i] = path
	}
	w.wg.Add(2)
	go w.relay(w.taps[0], w.taps[1])
	go w.relay(w.taps[1], w.taps[0])
	cleanup(w.stop)
	return w, nil
}

func (w *wiredPair) relay(from, to Port) {
	defer w.wg.Done()
	bufs, sizes := frames(from.BatchSize(), from.MTU())
	out := make([][]byte, len(bufs))
	for {
		n, err := from.Read(bufs, sizes, Headroom)
		if err != nil {
			return
		}
		for i := range n {
			if l := int64(sizes[i]); l > w.longest.Load() {
				w.longest.Store(l)
			}
			out[i] = bufs[i][:Headroom+sizes[i]]
		}
		if _, err := to.Write(out[:n], Headroom); err != nil && errors.Is(err, os.ErrClosed) {
			return
		}
	}
}

func (w *wiredPair) stop() {
	w.taps[0].Close()
	w.taps[1].Close()
	w.wg.Wait()
}

// bulk sends total pseudo-random bytes over one TCP connection from the
// first node to the second and returns the sha256 of what was sent and of
// what arrived, and how long it took.
func (w *wiredPair) bulk(total int) (sent, received [32]byte, took time.Duration, err error) {
	var ln net.Listener
	if err = ns.WithNetNSPath(w.paths[1], func(ns.NetNS) (err error) {
		ln, err = net.Listen("tcp", "192.0.2.2:0")
		return err
	}); err != nil {
		return
	}
	defer ln.Close()
	type result struct {
		sum [32]byte
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		h := sha256.New()
		_, err = io.Copy(h, c)
		got <- result{sum: [32]byte(h.Sum(nil)), err: err}
	}()
	var c net.Conn
	if err = ns.WithNetNSPath(w.paths[0], func(ns.NetNS) (err error) {
		c, err = net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		return err
	}); err != nil {
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute))
	// The data is made before the clock starts.
	data := make([]byte, total)
	r := rand.New(rand.NewPCG(uint64(total), 8))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	sent = sha256.Sum256(data)
	start := time.Now()
	if _, err = c.Write(data); err != nil {
		return
	}
	if err = c.Close(); err != nil {
		return
	}
	res := <-got
	return sent, res.sum, time.Since(start), res.err
}

// ginkgoCleanup is DeferCleanup in newWiredPair's shape.
func ginkgoCleanup(fn any, args ...any) { DeferCleanup(append([]any{fn}, args...)...) }

var _ = Describe("TAP port offloads", func() {
	const mtu = 1500

	It("carry a bulk TCP transfer between two nodes byte for byte, as packets no longer than the MTU", func() {
		if !isRoot() {
			Skip(rootReason)
		}
		w, err := newWiredPair(mtu, true, ginkgoCleanup)
		Expect(err).NotTo(HaveOccurred())
		Expect(w.taps[0].Offloads().Flags).To(ContainElements("csum", "tso4", "tso6"), "offloads: %s", w.taps[0].Offloads())
		sent, received, took, err := w.bulk(64 << 20)
		Expect(err).NotTo(HaveOccurred())
		Expect(received).To(Equal(sent), "sha256 differs at the two ends")

		// The sender's kernel handed over super-frames, the port split them,
		// the relay never saw a frame longer than the link carries, and the
		// receiver's port wrote runs of segments coalesced.
		s, rcv := w.taps[0].OffloadStats(), w.taps[1].OffloadStats()
		GinkgoWriter.Printf("64 MiB in %v\nsender %+v\nreceiver %+v\nlongest frame %d\n", took, s, rcv, w.longest.Load())
		Expect(s.SuperFrames).To(BeNumerically(">", 0))
		Expect(s.Segments).To(BeNumerically(">", 2*s.SuperFrames))
		Expect(s.Dropped).To(BeZero())
		Expect(w.longest.Load()).To(BeNumerically("<=", mtu+14), "a frame longer than the MTU left the port")
		Expect(w.longest.Load()).To(BeNumerically("==", mtu+14), "no full-sized frame: were the super-frames split?")
		Expect(rcv.Coalesced).To(BeNumerically(">", 0))
		Expect(rcv.CoalesceOff).To(BeEmpty())
	})

	It("split a node's UDP GSO send into the datagrams it stands for", func() {
		if !isRoot() {
			Skip(rootReason)
		}
		w, err := newWiredPair(mtu, true, ginkgoCleanup)
		Expect(err).NotTo(HaveOccurred())
		if !slices.Contains(w.taps[0].Offloads().Flags, "uso4") {
			Skip("the kernel does not take USO: " + w.taps[0].Offloads().String())
		}
		var rx, tx *net.UDPConn
		Expect(ns.WithNetNSPath(w.paths[1], func(ns.NetNS) (err error) {
			rx, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 5002})
			return err
		})).To(Succeed())
		defer rx.Close()
		Expect(ns.WithNetNSPath(w.paths[0], func(ns.NetNS) (err error) {
			tx, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 5002})
			return err
		})).To(Succeed())
		defer tx.Close()
		// One send of 20 datagrams of 1000 bytes (the last 500), as
		// UDP_SEGMENT makes the node's kernel hand them over in one frame.
		const size, count = 1000, 20
		payload := make([]byte, size*(count-1)+size/2)
		for i := range payload {
			payload[i] = byte(i / size)
		}
		rc, err := tx.SyscallConn()
		Expect(err).NotTo(HaveOccurred())
		var serr error
		Expect(rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT, size) })).To(Succeed())
		Expect(serr).NotTo(HaveOccurred())
		// The first send may only resolve the neighbour; send until one
		// super-frame went through whole.
		got := make(chan []byte, 4*count)
		go func() {
			buf := make([]byte, 2*size)
			for {
				n, err := rx.Read(buf)
				if err != nil {
					return
				}
				got <- bytes.Clone(buf[:n])
			}
		}()
		Eventually(func() uint64 {
			_, err := tx.Write(payload)
			Expect(err).NotTo(HaveOccurred())
			return w.taps[0].OffloadStats().SuperFrames
		}).WithTimeout(5 * time.Second).WithPolling(100 * time.Millisecond).Should(BeNumerically(">", 0))
		// Every datagram arrives as itself: its size, its bytes.
		seen := 0
		Eventually(func() int {
			for {
				select {
				case d := <-got:
					k := seen % count
					want := size
					if k == count-1 {
						want = size / 2
					}
					Expect(d).To(HaveLen(want), "datagram %d", seen)
					Expect(d[0]).To(Equal(byte(k)), "datagram %d", seen)
					seen++
				default:
					return seen
				}
			}
		}).WithTimeout(5 * time.Second).Should(BeNumerically(">=", count))
		Expect(w.taps[0].OffloadStats().Dropped).To(BeZero())
		Expect(w.longest.Load()).To(BeNumerically("<=", mtu+14))
	})

	It("are not needed: a TAP attached without a virtio-net header carries the same transfer", func() {
		if !isRoot() {
			Skip(rootReason)
		}
		w, err := newWiredPair(mtu, false, ginkgoCleanup)
		Expect(err).NotTo(HaveOccurred())
		Expect(w.taps[0].Offloads().VnetHdr).To(BeFalse())
		sent, received, _, err := w.bulk(8 << 20)
		Expect(err).NotTo(HaveOccurred())
		Expect(received).To(Equal(sent), "sha256 differs at the two ends")
		Expect(w.taps[0].OffloadStats().SuperFrames).To(BeZero())
		Expect(w.taps[1].OffloadStats().Coalesced).To(BeZero())
		Expect(w.longest.Load()).To(BeNumerically("<=", mtu+14))
	})
})

// BenchmarkTAPOffload measures one TCP connection between two nodes whose
// TAP ports are relayed to each other (wiredPair), with and without
// offloads: what the port costs a bulk transfer, without the fabric.
// Needs root; skipped otherwise.
func BenchmarkTAPOffload(b *testing.B) {
	if !isRoot() {
		b.Skip(rootReason)
	}
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("offload=%v", on), func(b *testing.B) {
			cleanup := func(fn any, args ...any) {
				b.Cleanup(func() {
					switch f := fn.(type) {
					case func() error:
						f()
					case func(string) error:
						f(args[0].(string))
					case func(string, string) error:
						f(args[0].(string), args[1].(string))
					case func():
						f()
					default:
						panic(fmt.Sprintf("cleanup of %T", fn))
					}
				})
			}
			w, err := newWiredPair(1500, on, cleanup)
			if err != nil {
				b.Fatal(err)
			}
			const total = 64 << 20
			var took time.Duration
			for b.Loop() {
				sent, received, t, err := w.bulk(total)
				if err != nil || sent != received {
					b.Fatalf("transfer: %v (sha256 equal: %v)", err, sent == received)
				}
				took += t
			}
			b.ReportMetric(float64(total)*8*float64(b.N)/took.Seconds()/1e6, "Mbit/s")
		})
	}
}
