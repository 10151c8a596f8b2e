package port

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"
)

var _ = Describe("multi-queue TAP port", func() {
	const (
		ifname = "gwlb0"
		mtu    = 1400
		flows  = 64 // the node's flows: UDP source ports
		per    = 20 // datagrams per flow, numbered
	)
	var (
		nodeIP  = netip.MustParseAddr("192.0.2.10")
		peerIP  = netip.MustParseAddr("192.0.2.20")
		peerMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x20}

		nsPath string
	)

	BeforeEach(func() {
		if !isRoot() {
			Skip(rootReason)
		}
		before := gleak.Goroutines()
		DeferCleanup(func() {
			Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(before))
		})
		nsName := uniqueName("mq")
		var err error
		nsPath, err = createNetNS(nsName)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(deleteNetNS(nsName)).To(Succeed()) })
	})

	// up makes the TAP (multi-queue or not), gives it its address and a
	// permanent neighbour entry for the peer, so the node sends at once.
	up := func(create func(string, string) error) {
		Expect(create(nsPath, ifname)).To(Succeed())
		DeferCleanup(func() { Expect(deleteLink(nsPath, ifname)).To(Succeed()) })
		_, err := linkUp(nsPath, ifname, mtu, nodeIP.String()+"/24")
		Expect(err).NotTo(HaveOccurred())
		h, err := handle(nsPath)
		Expect(err).NotTo(HaveOccurred())
		defer h.Close()
		link, err := h.LinkByName(ifname)
		Expect(err).NotTo(HaveOccurred())
		Expect(h.NeighAdd(&netlink.Neigh{
			LinkIndex: link.Attrs().Index, State: netlink.NUD_PERMANENT,
			IP: peerIP.AsSlice(), HardwareAddr: peerMAC,
		})).To(Succeed())
	}

	// spread has the node send many numbered flows and checks that both
	// queues read some, each flow on one queue, in order. With answered,
	// every flow first gets a frame written toward the node, as a flow
	// that is answered does.
	spread := func(answered bool) {
		up(createMultiQueueTAP)
		tap, err := openTAP(nsPath, ifname, true, 2)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(tap.Close)
		Expect(tap.Offloads().Queues).To(Equal(2), "%s", tap.Offloads())
		Expect(tap.Offloads().SingleQueue).To(BeEmpty())
		Expect(tap.Offloads().String()).To(ContainSubstring("2 queues"))
		queues := tap.Queues()
		Expect(queues).To(HaveLen(2))

		By("a second emulator is refused while this one reads the TAP")
		_, err = OpenTAP(nsPath, ifname)
		Expect(errors.Is(err, unix.EBUSY)).To(BeTrue(), "second OpenTAP: %v", err)

		// Each queue's reader records, per flow (source port), the queue it
		// came on and the sequence numbers in the order read.
		type seen struct {
			queue int
			seqs  []uint32
		}
		var mu sync.Mutex
		got := map[uint16]*seen{}
		perQueue := make([]int, len(queues))
		var wg sync.WaitGroup
		for qi, q := range queues {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bufs, sizes := frames(q.BatchSize(), mtu)
				for {
					n, err := q.Read(bufs, sizes, Headroom)
					mu.Lock()
					for i := range n {
						proto, _, dst, payload, ok := ipv4Of(bufs[i][Headroom : Headroom+sizes[i]])
						if !ok || proto != unix.IPPROTO_UDP || dst != peerIP || len(payload) < 12 {
							continue
						}
						sport := binary.BigEndian.Uint16(payload[0:2])
						s := got[sport]
						if s == nil {
							s = &seen{queue: qi}
							got[sport] = s
						}
						if s.queue != qi {
							s.queue = -1 // a flow on two queues
						}
						s.seqs = append(s.seqs, binary.BigEndian.Uint32(payload[8:12]))
						perQueue[qi]++
					}
					mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
		DeferCleanup(func() {
			tap.Close()
			wg.Wait()
		})

		if answered {
			By("writing a frame of every flow toward the node first")
			h, err := handle(nsPath)
			Expect(err).NotTo(HaveOccurred())
			link, err := h.LinkByName(ifname)
			h.Close()
			Expect(err).NotTo(HaveOccurred())
			nodeMAC := link.Attrs().HardwareAddr
			var out [][]byte
			for f := range flows {
				u := make([]byte, 12)
				binary.BigEndian.PutUint16(u[0:2], 9)
				binary.BigEndian.PutUint16(u[2:4], uint16(40000+f))
				binary.BigEndian.PutUint16(u[4:6], 12)
				fr := ethernet(nodeMAC, peerMAC, 0x0800, ipv4(unix.IPPROTO_UDP, peerIP, nodeIP, u))
				out = append(out, append(make([]byte, Headroom), fr...))
			}
			n, err := tap.Write(out, Headroom)
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(Equal(flows))
		}
		By("sending numbered datagrams on many flows from inside the node")
		Expect(ns.WithNetNSPath(nsPath, func(ns.NetNS) error {
			for seq := range uint32(per) {
				for f := range flows {
					c, err := net.DialUDP("udp4", &net.UDPAddr{IP: nodeIP.AsSlice(), Port: 40000 + f},
						net.UDPAddrFromAddrPort(netip.AddrPortFrom(peerIP, 9)))
					if err != nil {
						return err
					}
					var b [4]byte
					binary.BigEndian.PutUint32(b[:], seq)
					_, err = c.Write(b[:])
					c.Close()
					if err != nil {
						return err
					}
				}
			}
			return nil
		})).To(Succeed())

		Eventually(func() int {
			mu.Lock()
			defer mu.Unlock()
			n := 0
			for _, s := range got {
				n += len(s.seqs)
			}
			return n
		}).Should(Equal(flows * per))
		mu.Lock()
		defer mu.Unlock()
		Expect(got).To(HaveLen(flows))
		for sport, s := range got {
			Expect(s.queue).NotTo(Equal(-1), "flow from port %d read on both queues", sport)
			for i := range s.seqs {
				Expect(s.seqs[i]).To(BeEquivalentTo(i), "flow from port %d out of order: %v", sport, s.seqs)
			}
		}
		Expect(perQueue[0]).To(BeNumerically(">", 0), "per queue: %v", perQueue)
		Expect(perQueue[1]).To(BeNumerically(">", 0), "per queue: %v", perQueue)
		GinkgoWriter.Printf("frames per queue: %v\n", perQueue)
	}

	It("reads the node's flows on two queues, each flow's frames in order on one queue", func() {
		spread(false)
	})

	It("keeps flows spread over both queues when frames toward the node are written first", func() {
		spread(true)
	})

	It("closing the port interrupts the readers of every queue and detaches them all", func() {
		up(createMultiQueueTAP)
		tap, err := openTAP(nsPath, ifname, true, 2)
		Expect(err).NotTo(HaveOccurred())
		errs := make(chan error, 2)
		for _, q := range tap.Queues() {
			go func() {
				bufs, sizes := frames(q.BatchSize(), mtu)
				_, err := q.Read(bufs, sizes, Headroom)
				errs <- err
			}()
		}
		Expect(tap.Close()).To(Succeed())
		for range 2 {
			var err error
			Eventually(errs).Should(Receive(&err))
			Expect(errors.Is(err, os.ErrClosed)).To(BeTrue(), "%v", err)
		}
		By("a new port attaches both queues again")
		tap, err = openTAP(nsPath, ifname, true, 2)
		Expect(err).NotTo(HaveOccurred())
		Expect(tap.Offloads().Queues).To(Equal(2))
		Expect(tap.Close()).To(Succeed())
	})

	It("attaches one queue to a single-queue TAP of an older lab and says so", func() {
		up(createTAP)
		tap, err := openTAP(nsPath, ifname, true, 2)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(tap.Close)
		Expect(tap.Queues()).To(HaveLen(1))
		o := tap.Offloads()
		Expect(o.Queues).To(Equal(1))
		Expect(o.VnetHdr).To(BeTrue(), "%s", o)
		Expect(o.SingleQueue).To(ContainSubstring("single-queue TAP"))
		Expect(tap.OffloadStats().Negotiated).To(ContainSubstring("1 queue (single-queue TAP"))
	})
})
