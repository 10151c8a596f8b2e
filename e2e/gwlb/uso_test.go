package gwlb

import (
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("UDP runs toward the appliances", func() {
	It("reach the reference appliance as GRO trains, and a bulk transfer through it stays byte for byte", func() {
		l := harness.Up(base)
		l.Curl("client", "http://203.0.113.10/") // the path is up
		before := applianceStats(l, "fw-1").GROTrains + applianceStats(l, "fw-2").GROTrains

		sent, received := sendBulk(l, 32<<20)
		Expect(received).To(Equal(sent), "web received other bytes than client sent")

		// The emulator wrote runs of GENEVE datagrams to the appliances'
		// TAPs as USO frames, and none to the other nodes.
		var udp uint64
		for _, p := range l.Counters().Ports {
			if p.Offload == nil {
				continue
			}
			Expect(p.Offload.CoalesceUDPOff).To(BeEmpty(), "node %s", p.Node)
			if p.Node == "fw-1" || p.Node == "fw-2" {
				udp += p.Offload.CoalescedUDP
			} else {
				Expect(p.Offload.CoalescedUDP).To(BeZero(), "node %s is no UDP-socket reader", p.Node)
			}
		}
		Expect(udp).To(BeNumerically(">", 0), "no USO frame was written to an appliance")
		// The appliance's UDP GRO read them as trains (its stats file is
		// written once a second).
		Eventually(func() uint64 {
			return applianceStats(l, "fw-1").GROTrains + applianceStats(l, "fw-2").GROTrains
		}).WithTimeout(5 * time.Second).WithPolling(200 * time.Millisecond).Should(BeNumerically(">", before))
	})
})
