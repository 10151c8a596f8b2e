package port

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// relay copies every batch one port reads to another port in one Write,
// as the fabric does, and notes the longest frame it saw.
func relay(from, to Port, longest *atomic.Int64, wg *sync.WaitGroup) {
	defer wg.Done()
	bufs, sizes := frames(from.BatchSize(), from.MTU())
	out := make([][]byte, len(bufs))
	for {
		n, err := from.Read(bufs, sizes, Headroom)
		if err != nil {
			return
		}
		for i := range n {
			if l := int64(sizes[i]); l > longest.Load() {
				longest.Store(l)
			}
			out[i] = bufs[i][:Headroom+sizes[i]]
		}
		if _, err := to.Write(out[:n], Headroom); err != nil && errors.Is(err, os.ErrClosed) {
			return
		}
	}
}

var _ = Describe("TAP port offloads", func() {
	const mtu = 1500

	It("carry a bulk TCP transfer between two nodes byte for byte, as packets no longer than the MTU", func() {
		if !isRoot() {
			Skip(rootReason)
		}
		// Two nodes on one link, wired through their TAP ports by relay.
		var paths [2]string
		var taps [2]*TAP
		for i, ip := range []string{"192.0.2.1/24", "192.0.2.2/24"} {
			name := uniqueName(fmt.Sprint("off", i))
			path, err := createNetNS(name)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(deleteNetNS, name)
			Expect(createTAP(path, "eth0")).To(Succeed())
			DeferCleanup(deleteLink, path, "eth0")
			_, err = linkUp(path, "eth0", mtu, ip)
			Expect(err).NotTo(HaveOccurred())
			taps[i], err = OpenTAP(path, "eth0")
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(taps[i].Close)
			paths[i] = path
		}
		Expect(taps[0].Offloads().Flags).To(ContainElements("csum", "tso4", "tso6"), "offloads: %s", taps[0].Offloads())
		var longest atomic.Int64
		var wg sync.WaitGroup
		wg.Add(2)
		go relay(taps[0], taps[1], &longest, &wg)
		go relay(taps[1], taps[0], &longest, &wg)
		DeferCleanup(func() {
			taps[0].Close()
			taps[1].Close()
			wg.Wait()
		})

		var ln net.Listener
		Expect(ns.WithNetNSPath(paths[1], func(ns.NetNS) (err error) {
			ln, err = net.Listen("tcp", "192.0.2.2:5001")
			return err
		})).To(Succeed())
		defer ln.Close()
		type result struct {
			sum [32]byte
			n   int64
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
			h := sha256.New()
			n, err := io.Copy(h, c)
			got <- result{sum: [32]byte(h.Sum(nil)), n: n, err: err}
		}()

		var c net.Conn
		Expect(ns.WithNetNSPath(paths[0], func(ns.NetNS) (err error) {
			c, err = net.DialTimeout("tcp", "192.0.2.2:5001", 5*time.Second)
			return err
		})).To(Succeed())
		const total = 64 << 20
		r := rand.New(rand.NewPCG(7, 8))
		h := sha256.New()
		buf := make([]byte, 256<<10)
		Expect(c.SetDeadline(time.Now().Add(time.Minute))).To(Succeed())
		for sent := 0; sent < total; sent += len(buf) {
			for i := 0; i < len(buf); i += 8 {
				v := r.Uint64()
				for k := range 8 {
					buf[i+k] = byte(v >> (8 * k))
				}
			}
			h.Write(buf)
			_, err := c.Write(buf)
			Expect(err).NotTo(HaveOccurred())
		}
		Expect(c.Close()).To(Succeed())
		var res result
		Eventually(got).WithTimeout(time.Minute).Should(Receive(&res))
		Expect(res.err).NotTo(HaveOccurred())
		Expect(res.n).To(Equal(int64(total)))
		Expect(res.sum).To(Equal([32]byte(h.Sum(nil))), "sha256 differs at the two ends")

		// The sender's kernel handed over super-frames, the port split them,
		// the relay never saw a frame longer than the link carries, and the
		// receiver's port wrote runs of segments coalesced.
		s, rcv := taps[0].OffloadStats(), taps[1].OffloadStats()
		GinkgoWriter.Printf("sender %+v\nreceiver %+v\nlongest frame %d\n", s, rcv, longest.Load())
		Expect(s.SuperFrames).To(BeNumerically(">", 0))
		Expect(s.Segments).To(BeNumerically(">", 2*s.SuperFrames))
		Expect(s.Dropped).To(BeZero())
		Expect(longest.Load()).To(BeNumerically("<=", mtu+14), "a frame longer than the MTU left the port")
		Expect(longest.Load()).To(BeNumerically("==", mtu+14), "no full-sized frame: were the super-frames split?")
		Expect(rcv.Coalesced).To(BeNumerically(">", 0))
		Expect(rcv.CoalesceOff).To(BeEmpty())
	})
})
