package gwlb

import (
	"encoding/json"
	"os"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("the GWLB node's flow limit", Ordered, func() {
	var l *harness.Lab
	BeforeAll(func() {
		l = harness.Up(harness.Variant(base, "    subnets: {gwlb: 10.20.0.50}", "    subnets: {gwlb: 10.20.0.50}\n    max_flows_per_node: 2"))
	})

	It("drops and counts new flows beyond it while existing flows go on", func() {
		// Two flows fill the node: ICMP (one flow per address pair, however
		// many pings) and one TCP connection.
		l.Ping("client", "203.0.113.10")
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("node web\n"))
		Expect(l.Flows()).To(HaveLen(2))
		Expect(l.GWLBDrops()["flow_limit"]).To(BeZero())

		// A new connection is a new flow: its SYN is dropped, and counted.
		l.Fails("client", "http://203.0.113.10/")
		Expect(l.GWLBDrops()["flow_limit"]).To(BeNumerically(">", 0))
		Expect(l.Flows()).To(HaveLen(2), "a refused flow is not in the table")

		// The flow that was there before the limit still carries traffic,
		// both ways.
		r := l.Exec("client", "ping", "-n", "-c", "2", "-W", "2", "203.0.113.10")
		Expect(r.Code).To(Equal(0), "ping over the existing ICMP flow: %s%s", r.Stdout, r.Stderr)

		status := l.Status()
		Expect(status.Counters.GWLB).To(ContainElement(And(HaveField("MaxFlows", 2), HaveField("ActiveFlowCount", 2))))
	})

	It("lists, filters and counts the flows from the command line", func() {
		r := harness.Run(time.Minute, "flows", "--name", l.Name, "--count")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(strings.TrimSpace(r.Stdout)).To(Equal("2"))

		r = harness.Run(time.Minute, "flows", "--name", l.Name, "--json", "--proto", "icmp", "--host", "198.51.100.0/24")
		Expect(r.Code).To(Equal(0), r.Stderr)
		var icmp []api.Flow
		Expect(json.Unmarshal([]byte(r.Stdout), &icmp)).To(Succeed())
		Expect(icmp).To(ConsistOf(HaveField("Src", "198.51.100.10")))

		r = harness.Run(time.Minute, "flows", "--name", l.Name, "--limit", "1")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(strings.Split(strings.TrimSpace(r.Stdout), "\n")).To(HaveLen(2), "header and one flow:\n%s", r.Stdout)
		Expect(r.Stderr).To(ContainSubstring("1 of 2 matching flows listed"))

		r = harness.Run(time.Minute, "flows", "--name", l.Name, "--target", "fw-9")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring(`target "fw-9": not found in any target group`))
	})
})

var _ = Describe("appliance flow logs", Ordered, func() {
	var l *harness.Lab
	BeforeAll(func() {
		l = harness.Up(harness.Variant(base, "flow_log: true}}", "flow_log: true, flow_log_max_bytes: 4096}}"))
	})

	It("rotate at flow_log_max_bytes and stay readable across rotations", func() {
		var last string
		for range 40 { // each probe is a new UDP flow: two records on one appliance
			m := echoRemote.FindStringSubmatch(l.ProbeUDP("client", "203.0.113.10:80"))
			Expect(m).NotTo(BeNil())
			last = "198.51.100.10:" + m[2]
		}
		bothWays(l, last, "10.0.1.10:80", 17)
		for _, fw := range []string{"fw-1", "fw-2"} {
			log := l.StateDir() + "/logs/" + fw + ".flows.jsonl"
			Expect(os.Stat(log+".1")).To(HaveField("Size()", BeNumerically("<=", 4096)), "%s rotated", fw)
			Expect(os.Stat(log)).To(HaveField("Size()", BeNumerically("<=", 4096)))
			Expect(l.FlowLog(fw)).NotTo(BeEmpty())
		}
	})
})
