package port

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"
)

// frameReader reads a port on its own goroutine until the port is closed,
// handing copies of the frames to the spec.
type frameReader struct {
	frames chan []byte
	done   chan error
}

func startReader(p Port) *frameReader {
	r := &frameReader{frames: make(chan []byte, 256), done: make(chan error, 1)}
	go func() {
		bufs, sizes := frames(p.BatchSize(), p.MTU())
		for {
			n, err := p.Read(bufs, sizes, Headroom)
			if err != nil {
				r.done <- err
				return
			}
			for i := range n {
				select {
				case r.frames <- bytes.Clone(bufs[i][Headroom : Headroom+sizes[i]]):
				default: // the spec stopped looking; never block the reader
				}
			}
		}
	}()
	return r
}

// next returns the first frame for which match is true, skipping others.
func (r *frameReader) next(match func([]byte) bool) []byte {
	GinkgoHelper()
	var got []byte
	Eventually(func() bool {
		for {
			select {
			case f := <-r.frames:
				if match(f) {
					got = f
					return true
				}
			default:
				return false
			}
		}
	}).WithTimeout(5 * time.Second).WithPolling(10 * time.Millisecond).Should(BeTrue())
	return got
}

var _ = Describe("TAP port", func() {
	const (
		ifname = "gwlb0"
		mtu    = 1400
	)
	var (
		nodeIP  = netip.MustParseAddr("192.0.2.10") // the node's address, inside the test namespace
		peerIP  = netip.MustParseAddr("192.0.2.20") // the emulator side pretends to be this host
		peerMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x20}
		bcast   = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

		nsName, nsPath string
		nodeMAC        net.HardwareAddr
		tap            *TAP
	)

	BeforeEach(func() {
		if !isRoot() {
			Skip(rootReason)
		}
		// Registered first, so it runs last: after the port is closed and
		// the namespace is gone, no goroutine of ours may be left.
		before := gleak.Goroutines()
		DeferCleanup(func() {
			Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(before))
		})

		nsName = uniqueName("tap")
		var err error
		nsPath, err = createNetNS(nsName)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(deleteNetNS(nsName)).To(Succeed())
			Expect(nsPath).NotTo(BeAnExistingFile())
		})
		Expect(createTAP(nsPath, ifname)).To(Succeed())
		DeferCleanup(func() {
			Expect(deleteLink(nsPath, ifname)).To(Succeed())
		})
		nodeMAC, err = linkUp(nsPath, ifname, mtu, nodeIP.String()+"/24")
		Expect(err).NotTo(HaveOccurred())

		tap, err = OpenTAP(nsPath, ifname)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(tap.Close)
	})

	It("reports the interface's name, MTU and batch size", func() {
		Expect(tap.Name()).To(Equal(ifname))
		Expect(tap.MTU()).To(Equal(mtu))
		Expect(tap.BatchSize()).To(Equal(TAPBatchSize))
	})

	It("carries frames both ways: the node ARPs, we answer, its queued packet follows, and it answers our ping", func() {
		r := startReader(tap)

		// A UDP socket inside the namespace; sending to the peer makes the
		// node's kernel resolve it first.
		var conn net.Conn
		Expect(ns.WithNetNSPath(nsPath, func(ns.NetNS) error {
			var err error
			conn, err = net.Dial("udp4", netip.AddrPortFrom(peerIP, 9).String())
			return err
		})).To(Succeed())
		defer conn.Close()
		_, err := conn.Write([]byte("hello from the node"))
		Expect(err).NotTo(HaveOccurred())

		By("reading the node's ARP request from the port")
		req := r.next(func(f []byte) bool {
			op, _, target, _, ok := arpOf(f)
			return ok && op == 1 && target == peerIP
		})
		op, sender, _, senderMAC, _ := arpOf(req)
		Expect(op).To(BeEquivalentTo(1))
		Expect(sender).To(Equal(nodeIP))
		Expect(senderMAC).To(Equal(nodeMAC))
		Expect(net.HardwareAddr(req[0:6])).To(Equal(bcast))

		By("writing the ARP reply into the port")
		reply := ethernet(nodeMAC, peerMAC, etherARP, arp(2, peerMAC, peerIP, nodeMAC, nodeIP))
		n, err := tap.Write([][]byte{append(make([]byte, Headroom), reply...)}, Headroom)
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(1))

		By("reading the UDP datagram the node had queued, now addressed to our MAC")
		udp := r.next(func(f []byte) bool {
			proto, _, dst, _, ok := ipv4Of(f)
			return ok && proto == unix.IPPROTO_UDP && dst == peerIP
		})
		Expect(net.HardwareAddr(udp[0:6])).To(Equal(peerMAC))
		_, src, _, payload, _ := ipv4Of(udp)
		Expect(src).To(Equal(nodeIP))
		Expect(binary.BigEndian.Uint16(payload[2:4])).To(BeEquivalentTo(9))
		Expect(string(payload[8:])).To(Equal("hello from the node"))

		By("finding the peer in the node's neighbour table")
		h, err := handle(nsPath)
		Expect(err).NotTo(HaveOccurred())
		defer h.Close()
		link, err := h.LinkByName(ifname)
		Expect(err).NotTo(HaveOccurred())
		neighs, err := h.NeighList(link.Attrs().Index, netlink.FAMILY_V4)
		Expect(err).NotTo(HaveOccurred())
		Expect(neighs).To(ContainElement(Satisfy(func(n netlink.Neigh) bool {
			return n.IP.Equal(peerIP.AsSlice()) && bytes.Equal(n.HardwareAddr, peerMAC)
		})), "neighbours: %v", neighs)

		By("pinging the node through the port and reading its echo reply")
		ping := ethernet(nodeMAC, peerMAC, etherIPv4, ipv4(unix.IPPROTO_ICMP, peerIP, nodeIP, icmpEcho(8, 0x4242, 7, []byte("gwlb-lab"))))
		_, err = tap.Write([][]byte{append(make([]byte, Headroom), ping...)}, Headroom)
		Expect(err).NotTo(HaveOccurred())
		pong := r.next(func(f []byte) bool {
			proto, _, dst, p, ok := ipv4Of(f)
			return ok && proto == unix.IPPROTO_ICMP && dst == peerIP && len(p) >= 8 && p[0] == 0
		})
		_, _, _, icmp, _ := ipv4Of(pong)
		Expect(binary.BigEndian.Uint16(icmp[4:6])).To(BeEquivalentTo(0x4242))
		Expect(binary.BigEndian.Uint16(icmp[6:8])).To(BeEquivalentTo(7))
		Expect(string(icmp[8:])).To(Equal("gwlb-lab"))
		link, err = h.LinkByName(ifname)
		Expect(err).NotTo(HaveOccurred())
		Expect(link.Attrs().Statistics.RxPackets).To(BeNumerically(">=", 2), "the node's kernel counted our frames")
		Expect(link.Attrs().Statistics.TxPackets).To(BeNumerically(">=", 3), "ARP request, UDP and echo reply")

		Expect(tap.Close()).To(Succeed())
		Eventually(r.done).Should(Receive(MatchError(os.ErrClosed)))
	})

	It("unblocks a pending Read on Close, and Close is idempotent", func() {
		r := startReader(tap)
		Consistently(r.done).WithTimeout(100 * time.Millisecond).ShouldNot(Receive())
		Expect(tap.Close()).To(Succeed())
		var err error
		Eventually(r.done).WithTimeout(5 * time.Second).Should(Receive(&err))
		Expect(errors.Is(err, os.ErrClosed)).To(BeTrue(), "Read after Close: %v", err)
		Expect(tap.Close()).To(Succeed())
		_, err = tap.Write([][]byte{make([]byte, Headroom+60)}, Headroom)
		Expect(errors.Is(err, os.ErrClosed)).To(BeTrue(), "Write after Close: %v", err)

		By("leaving the lab's persistent TAP in place")
		h, err := handle(nsPath)
		Expect(err).NotTo(HaveOccurred())
		defer h.Close()
		_, err = h.LinkByName(ifname)
		Expect(err).NotTo(HaveOccurred())
	})

	It("reads and writes without allocating", func() {
		sock, err := openNSSocket(nsPath, ifname)
		Expect(err).NotTo(HaveOccurred())
		defer sock.Close()
		frame := ethernet(bcast, peerMAC, etherTest, make([]byte, 46))
		out := [][]byte{append(make([]byte, Headroom), frame...)}
		bufs, sizes := frames(tap.BatchSize(), tap.MTU())
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := tap.Write(out, Headroom); err != nil {
				panic(err)
			}
			if _, err := unix.Write(int(sock.f.Fd()), frame); err != nil {
				panic(err)
			}
			if _, err := tap.Read(bufs, sizes, Headroom); err != nil {
				panic(err)
			}
		})
		Expect(allocs).To(BeZero())
	})

	It("writes a run of one flow's TCP segments as one coalesced frame, without allocating", func() {
		// 16 full segments from the peer to a port of the node nobody
		// listens on; the node answers with resets nobody reads.
		out := make([][]byte, 16)
		mss := mtu - 40
		for i := range out {
			ip := packet.AppendTCP(nil, packet.IPHeader{Src: peerIP, Dst: nodeIP, ID: uint16(100 + i)},
				packet.TCPHeader{SrcPort: 5555, DstPort: 5556, Seq: uint32(1000 + i*mss), Ack: 1, Flags: packet.TCPFlagACK, Window: 100},
				make([]byte, mss))
			out[i] = packet.AppendFrame(make([]byte, Headroom), packet.MAC(nodeMAC), packet.MAC(peerMAC), ip)
			Expect(len(out[i]) - Headroom).To(Equal(mtu + 14))
		}
		before := tap.OffloadStats().Coalesced
		allocs := testing.AllocsPerRun(50, func() {
			if n, err := tap.Write(out, Headroom); err != nil || n != len(out) {
				panic(fmt.Sprint(n, err))
			}
		})
		Expect(allocs).To(BeZero())
		s := tap.OffloadStats()
		Expect(s.CoalesceOff).To(BeEmpty())
		Expect(s.Coalesced-before).To(BeNumerically(">=", 50), "the runs were not written coalesced")

		// The kernel takes an IPv6 run too (the node drops it later: IPv6
		// is off on its interface).
		for i := range out {
			ip := packet.AppendTCP(nil, packet.IPHeader{Src: netip.MustParseAddr("2001:db8::20"), Dst: netip.MustParseAddr("2001:db8::10")},
				packet.TCPHeader{SrcPort: 5555, DstPort: 5556, Seq: uint32(1000 + i*(mss-20)), Ack: 1, Flags: packet.TCPFlagACK, Window: 100},
				make([]byte, mss-20))
			out[i] = packet.AppendFrame(out[i][:Headroom], packet.MAC(nodeMAC), packet.MAC(peerMAC), ip)
		}
		n, err := tap.Write(out, Headroom)
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(len(out)))
		s2 := tap.OffloadStats()
		Expect(s2.CoalesceOff).To(BeEmpty())
		Expect(s2.Coalesced).To(Equal(s.Coalesced + 1))
	})

	It("reports the frames the kernel dropped because the port was not read, as the kernel counts them", func() {
		kernel := func() (tx, rx uint64) {
			h, err := handle(nsPath)
			Expect(err).NotTo(HaveOccurred())
			defer h.Close()
			l, err := h.LinkByName(ifname)
			Expect(err).NotTo(HaveOccurred())
			return l.Attrs().Statistics.TxDropped, l.Attrs().Statistics.RxDropped
		}
		Expect(tap.QueueDrops()).To(Equal(QueueDrops{}))
		tx0, rx0 := kernel()

		By("sending far more frames from the node than the TAP's queue holds, with nobody reading")
		const sent = 3000
		Expect(ns.WithNetNSPath(nsPath, func(ns.NetNS) error {
			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			ifi, err := net.InterfaceByName(ifname)
			if err != nil {
				return err
			}
			frame := append(append(append([]byte{}, bcast...), nodeMAC...), 0x88, 0xb5) // local experimental EtherType
			frame = append(frame, make([]byte, 46)...)
			to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
			copy(to.Addr[:], bcast)
			for range sent {
				if err := unix.Sendto(fd, frame, 0, to); err != nil {
					return err
				}
			}
			return nil
		})).To(Succeed())

		tx, rx := kernel()
		Expect(tx-tx0).To(BeNumerically(">", 0), "the kernel dropped nothing: the queue is longer than %d frames", sent)
		Expect(tap.QueueDrops()).To(Equal(QueueDrops{TxDropped: tx - tx0, RxDropped: rx - rx0}))

		By("reading what the queue kept: with the drops, every frame sent")
		var read atomic.Int64
		go func() {
			bufs, sizes := frames(tap.BatchSize(), tap.MTU())
			for {
				n, err := tap.Read(bufs, sizes, Headroom)
				if err != nil {
					return // closed by the cleanup
				}
				for i := range n {
					if f := bufs[i][Headroom : Headroom+sizes[i]]; len(f) >= 14 && f[12] == 0x88 && f[13] == 0xb5 {
						read.Add(1)
					}
				}
			}
		}()
		Eventually(func() int64 { return read.Load() + int64(tx-tx0) }).
			WithTimeout(5 * time.Second).WithPolling(10 * time.Millisecond).Should(Equal(int64(sent)))
	})

	It("refuses an interface that does not exist instead of creating it, and a TAP already attached", func() {
		_, err := OpenTAP(nsPath, "missing0")
		Expect(err).To(MatchError(ContainSubstring(`no interface "missing0"`)))
		Expect(errors.Is(err, unix.ENODEV)).To(BeTrue(), "%v", err)
		h, err := handle(nsPath)
		Expect(err).NotTo(HaveOccurred())
		defer h.Close()
		_, err = h.LinkByName("missing0")
		Expect(err).To(HaveOccurred(), "OpenTAP created the interface")

		_, err = OpenTAP(nsPath, ifname)
		Expect(errors.Is(err, unix.EBUSY)).To(BeTrue(), "second OpenTAP: %v", err)

		_, err = OpenTAP(filepath.Join("/var/run/netns", nsName+"-missing"), ifname)
		Expect(err).To(HaveOccurred())
	})
})
