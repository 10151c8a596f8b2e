package gwlb

import (
	"fmt"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const twoAZ = "testdata/two-az.yaml"

var _ = Describe("availability zones", func() {
	It("keep each zone's traffic on its own GWLB node and appliance without cross-zone", func() {
		l := harness.Up(twoAZ)
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("node web-a\n"))
		Expect(l.Curl("client", "http://203.0.113.11/")).To(ContainSubstring("node web-b\n"))
		Expect(l.Curl("web-b", "http://198.51.100.10/")).To(ContainSubstring("remote 203.0.113.11:"))
		for _, f := range l.Flows() {
			switch f.Node {
			case "gwlb-1-az1":
				Expect(f.Target).To(Equal("fw-a"), "%+v", f)
			case "gwlb-1-az2":
				Expect(f.Target).To(Equal("fw-b"), "%+v", f)
			}
		}
		Expect(l.Flows()).To(HaveLen(3))
	})

	It("spread a zone's flows over both zones' appliances with cross-zone on (spec §4.6)", func() {
		l := harness.Up(harness.Variant(twoAZ, "cross_zone: false", "cross_zone: true"))
		r := l.Exec("client", "sh", "-c", "for i in $(seq 30); do curl -s -o /dev/null --max-time 3 http://203.0.113.10/ || exit 1; done")
		Expect(r.Code).To(Equal(0), r.Stderr)
		targets := map[string]bool{}
		for _, f := range l.Flows() {
			Expect(f.Node).To(Equal("gwlb-1-az1"))
			targets[f.Target] = true
		}
		Expect(targets).To(HaveLen(2), "az1's node used %v", targets)
	})

	It("#2 (spec §6.6): an edge route through the other zone's endpoint splits a flow over two GWLB nodes", func() {
		l := harness.Up(harness.Variant(twoAZ,
			"          - {destination: 10.0.1.0/24, target: gwlbe-a}", "          - {destination: 10.0.1.0/24, target: gwlbe-b}"))
		l.Fails("client", "http://203.0.113.10/")
		// The SYN went through az2's node; the SYN-ACK left web-a's subnet
		// for az1's endpoint, whose node never saw the flow start.
		Eventually(func() uint64 { return l.GWLBDrops()["tcp_no_flow"] }, 10*time.Second, 100*time.Millisecond).Should(BeNumerically(">", 0))
		nodes := map[string]bool{}
		for _, f := range l.Flows() {
			nodes[f.Node] = true
		}
		Expect(nodes).To(Equal(map[string]bool{"gwlb-1-az2": true}))
	})
})

var _ = Describe("a cross-zone mistake (spec §6.6 #12)", func() {
	It("times out the flows that a same-AZ-only reflector gets from the other zone's GWLB node", func() {
		l := harness.Up(harness.Variant(twoAZ,
			"cross_zone: false", "cross_zone: true",
			"run: {appliance: {mode: forward, flow_log: true}}", "run: {reflector: {health_port: 80, same_az_only: true}}"))
		r := l.Exec("client", "sh", "-c", `ok=0; bad=0
for i in $(seq 30); do
  if curl -s -o /dev/null --max-time 1 http://203.0.113.10/; then ok=$((ok+1)); else bad=$((bad+1)); fi
done
echo "$ok $bad"`)
		Expect(r.Code).To(Equal(0), r.Stderr)
		var ok, bad int
		_, err := fmt.Sscan(r.Stdout, &ok, &bad)
		Expect(err).NotTo(HaveOccurred())
		// Flows hashed to fw-a (same zone) pass, flows hashed to fw-b fail.
		Expect(ok).To(BeNumerically(">", 0), "no flow passed")
		Expect(bad).To(BeNumerically(">", 0), "no flow failed")
		crossed := 0
		for _, f := range l.Flows() {
			if f.Node == "gwlb-1-az1" && f.Target == "fw-b" {
				crossed++
			}
		}
		Expect(crossed).To(BeNumerically(">", 0))
	})
})
