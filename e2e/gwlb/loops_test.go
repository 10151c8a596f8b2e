package gwlb

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gwlb-lab/gwlb-lab/appliance"
	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// applianceStats reads the counters a reference appliance writes.
func applianceStats(l *harness.Lab, node string) appliance.Stats {
	var s appliance.Stats
	b, err := os.ReadFile(filepath.Join(l.StateDir(), "logs", node+".stats.json"))
	if os.IsNotExist(err) {
		return s
	}
	Expect(err).NotTo(HaveOccurred())
	Expect(json.Unmarshal(b, &s)).To(Succeed())
	return s
}

// processed sums the bytes all GWLB nodes carried (both ways); health
// checks do not count.
func processed(l *harness.Lab) uint64 {
	var sum uint64
	for _, m := range l.Status().Counters.GWLB {
		sum += m.ProcessedBytes
	}
	return sum
}

var _ = Describe("loops", func() {
	It("end a route loop between two zones' endpoints: counted, bounded, and the lab goes quiet", func() {
		// Each endpoint subnet routes everything into the other zone's
		// endpoint: web-a's SYN goes fw-a, gwlbe-b, fw-b, gwlbe-a, fw-a, ...
		l := harness.Up(harness.Variant(twoAZ,
			"endpoint-a: {az: az1, cidr: 10.0.2.0/28, route_table: endpoint}", "endpoint-a: {az: az1, cidr: 10.0.2.0/28, route_table: endpoint-a}",
			"endpoint-b: {az: az2, cidr: 10.0.12.0/28, route_table: endpoint}", "endpoint-b: {az: az2, cidr: 10.0.12.0/28, route_table: endpoint-b}",
			`      endpoint:
        routes:
          - {destination: 0.0.0.0/0, target: igw-consumer}
`, `      endpoint-a:
        routes:
          - {destination: 0.0.0.0/0, target: gwlbe-b}
      endpoint-b:
        routes:
          - {destination: 0.0.0.0/0, target: gwlbe-a}
`))
		// curl sends its SYN twice in its 2 s (at 0 and 1 s).
		l.Fails("web-a", "http://198.51.100.10/")
		Expect(l.Drops()["endpoint_loop"]).To(BeNumerically(">=", 1))

		By("the data plane going quiet once curl gave up")
		var last uint64
		Eventually(func() bool {
			p := processed(l)
			quiet := p == last
			last = p
			return quiet
		}, 10*time.Second, 500*time.Millisecond).Should(BeTrue())
		rx0, _ := l.PortCounters("fw-a")
		Consistently(func() uint64 { return processed(l) }, 2*time.Second, 250*time.Millisecond).Should(Equal(last))
		// Health checks still reach fw-a, a few a second at most.
		rx1, _ := l.PortCounters("fw-a")
		Expect(rx1-rx0).To(BeNumerically("<", 50), "fw-a still receives %d packets in 2 s", rx1-rx0)

		By("each SYN curl sent looping a bounded number of times")
		loops := l.Drops()["endpoint_loop"]
		Expect(loops).To(BeNumerically("<=", 4))
		// A loop ends at its 17th endpoint entry: each SYN reached the
		// appliances 16 times at most.
		a, b := applianceStats(l, "fw-a"), applianceStats(l, "fw-b")
		Expect(a.Received+b.Received).To(BeNumerically("<=", 16*loops), "fw-a %+v fw-b %+v", a, b)
	})

	It("do not start between two appliances: one crafted GENEVE packet is refused, not reflected back and forth", func() {
		l := harness.Up(twoAZ)
		l.Curl("client", "http://203.0.113.10/") // the lab is up and carries traffic

		// A well-formed GWLB packet, sent to fw-b from fw-a's own address:
		// an appliance that returns GENEVE to any sender would send it
		// back to fw-a, which would send it back to fw-b, for ever.
		inner := packet.AppendUDP(nil, packet.IPHeader{Src: netip.MustParseAddr("198.51.100.10"), Dst: netip.MustParseAddr("10.0.1.10")}, 4000, 5000, []byte("ping-pong"))
		buf := make([]byte, 128+len(inner))
		copy(buf[128:], inner)
		params := packet.EncapParams{Src: netip.MustParseAddr("10.20.1.11"), Dst: netip.MustParseAddr("10.20.11.11"), SrcPort: 6081,
			Options: packet.AWSOptions{EndpointID: 1, Cookie: 2}}
		start, err := packet.Encap(buf, 128, len(inner), &params)
		Expect(err).NotTo(HaveOccurred())
		payload := buf[start+packet.EthernetLen+packet.IPv4Len+packet.UDPLen:]
		// One write, one datagram (bash's printf would write in pieces).
		file := filepath.Join(GinkgoT().TempDir(), "geneve.bin")
		Expect(os.WriteFile(file, payload, 0o644)).To(Succeed())
		r := l.Exec("fw-a", "bash", "-c", "cat "+file+" > /dev/udp/10.20.11.11/6081")
		Expect(r.Code).To(Equal(0), r.Stderr)

		Eventually(func() uint64 { return applianceStats(l, "fw-b").Foreign }, 10*time.Second, 100*time.Millisecond).Should(Equal(uint64(1)))
		// Nothing came back to fw-a (which would count it as foreign too).
		received := applianceStats(l, "fw-b").Received
		Consistently(func() [3]uint64 {
			a, b := applianceStats(l, "fw-a"), applianceStats(l, "fw-b")
			return [3]uint64{b.Received, b.Returned, a.Foreign}
		}, 2*time.Second, 200*time.Millisecond).Should(Equal([3]uint64{received, 0, 0}))
	})

	It("never forward a GENEVE control message (O bit) returned by an appliance", func() {
		l := harness.Up(harness.Variant(twoAZ,
			"run: {appliance: {mode: forward, flow_log: true}}", "run: {appliance: {mode: forward, flow_log: true, misbehave: {control: true}}}"))
		l.Fails("client", "http://203.0.113.10/")
		Eventually(func() uint64 { return l.GWLBDrops()["return_control_packet"] }, 10*time.Second, 100*time.Millisecond).Should(BeNumerically(">", 0))
	})
})

var _ = Describe("drops users could not see", func() {
	It("count ARP requests for an address nobody owns, and report the TAP queues' drops", func() {
		l := harness.Up(twoAZ)
		before := l.Drops()["arp_no_owner"]
		r := l.Exec("web-a", "ping", "-n", "-c", "1", "-W", "1", "10.0.1.99")
		Expect(r.Code).NotTo(Equal(0), "something answered for 10.0.1.99")
		Eventually(func() uint64 { return l.Drops()["arp_no_owner"] }, 10*time.Second, 100*time.Millisecond).Should(BeNumerically(">", before))

		st := harness.Run(time.Minute, "status", "--name", l.Name)
		Expect(st.Code).To(Equal(0), st.Stderr)
		Expect(st.Stdout).To(MatchRegexp(`drops: .*arp_no_owner=\d+`))

		// The kernel's TAP counters are read for every node; nothing
		// overflowed in this quiet lab.
		s := l.Status()
		Expect(s.Counters.Drops).To(HaveKeyWithValue("tap_queue_full", uint64(0)))
		for _, p := range s.Counters.Ports {
			Expect(p.TAPError).To(BeEmpty(), "node %s", p.Node)
			Expect(p.TAP).NotTo(BeNil(), "node %s", p.Node)
		}
	})

	It("count what a node's TAP queue dropped while the emulator could not read it", func() {
		l := harness.Up(twoAZ)
		// The node knows the router's MAC first, or its packets would
		// wait in its neighbour table rather than in the TAP's queue.
		l.Exec("web-a", "ping", "-n", "-c", "1", "-W", "1", "10.0.1.1")
		before := l.Drops()["tap_queue_full"]
		pid := l.Status().Emulator.PID
		Expect(pid).To(BeNumerically(">", 0))
		Expect(syscall.Kill(pid, syscall.SIGSTOP)).To(Succeed())
		stopped := true
		DeferCleanup(func() {
			if stopped {
				_ = syscall.Kill(pid, syscall.SIGCONT)
			}
		})
		// Far more than the TAP's queues hold (each of its two queues
		// takes up to its 1000-frame queue length), to the router (which
		// would drop them anyway: to_router).
		r := l.Exec("web-a", "bash", "-c", "for i in $(seq 6000); do echo x > /dev/udp/10.0.1.1/9; done")
		Expect(syscall.Kill(pid, syscall.SIGCONT)).To(Succeed())
		stopped = false
		Expect(r.Code).To(Equal(0), r.Stderr)

		Eventually(func() uint64 { return l.Drops()["tap_queue_full"] }, 10*time.Second, 200*time.Millisecond).Should(BeNumerically(">=", before+1000))
		var web *uint64
		for _, p := range l.Status().Counters.Ports {
			if p.Node == "web-a" && p.TAP != nil {
				web = &p.TAP.TxDropped
			}
		}
		Expect(web).NotTo(BeNil())
		Expect(*web).To(BeNumerically(">=", 1000))
		st := harness.Run(time.Minute, "status", "--name", l.Name)
		Expect(st.Stdout).To(MatchRegexp(`tap queue drops: .*web-a tx_dropped=\d+`))
	})
})
