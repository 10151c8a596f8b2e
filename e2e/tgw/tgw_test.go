package tgw

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const centralized = "../../scenarios/tgw-east-west.yaml"

// connect fetches url from node with each of ports as the client's source
// port and returns how many fetches succeeded.
func connect(l *harness.Lab, node, url string, ports []int, timeout int) int {
	GinkgoHelper()
	script := fmt.Sprintf(`ok=0
for p in %s; do
  if curl -s -o /dev/null --max-time %d --local-port "$p" %s; then ok=$((ok+1)); fi
done
echo $ok`, join(ports), timeout, url)
	r := l.Exec(node, "sh", "-c", script)
	Expect(r.Code).To(Equal(0), r.Stderr)
	var ok int
	_, err := fmt.Sscan(r.Stdout, &ok)
	Expect(err).NotTo(HaveOccurred(), r.Stdout)
	return ok
}

func join(ports []int) string {
	s := ""
	for i, p := range ports {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprint(p)
	}
	return s
}

func portRange(from, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = from + i
	}
	return out
}

// appliancesSeeing returns, for each client port, the appliances whose
// flow log holds the flow from src:port.
func appliancesSeeing(l *harness.Lab, src string, ports []int) map[int]map[string]bool {
	out := map[int]map[string]bool{}
	for _, fw := range []string{"fw-az1", "fw-az2"} {
		for _, rec := range l.FlowLog(fw) {
			for _, p := range ports {
				if (rec.Src == src && int(rec.SrcPort) == p) || (rec.Dst == src && int(rec.DstPort) == p) {
					if out[p] == nil {
						out[p] = map[string]bool{}
					}
					out[p][fw] = true
				}
			}
		}
	}
	return out
}

var _ = Describe("transit gateway, centralized inspection (spec §6.5)", func() {
	It("with appliance mode, keeps both directions of every flow on one appliance, spread over both AZs", func() {
		l := harness.Up(centralized)
		// The path is up once one cross-AZ fetch succeeds.
		l.Curl("a1", "http://10.2.2.10/")
		ports := portRange(41000, 24)
		Expect(connect(l, "a1", "http://10.2.2.10/", ports, 3)).To(Equal(len(ports)), "cross-AZ fetches a1 (az1) -> b2 (az2)")
		Expect(connect(l, "b1", "http://10.1.2.10/", portRange(42000, 4), 3)).To(Equal(4), "cross-AZ fetches b1 (az1) -> a2 (az2)")
		Expect(connect(l, "a2", "http://10.2.2.10/", portRange(43000, 4), 3)).To(Equal(4), "same-AZ fetches a2 -> b2")

		// Every flow: one GWLB node, packets both ways through it.
		nodes := map[string]int{}
		seen := 0
		for _, f := range l.Flows() {
			var port int
			if _, err := fmt.Sscanf(f.Src, "10.1.1.10:%d", &port); err != nil || port < 41000 || port >= 41000+len(ports) {
				continue
			}
			seen++
			Expect(f.ReplyPackets).To(BeNumerically(">", 0), "flow %+v got no answer through its node", f)
			nodes[f.Node]++
		}
		Expect(seen).To(Equal(len(ports)), "one GWLB flow per connection")
		Expect(nodes).To(HaveLen(2), "the flow hash used one AZ only: %v", nodes)
		Expect(l.GWLBDrops()["tcp_no_flow"]).To(BeZero())

		// gwlb-lab tgw counts what crossed each attachment.
		r := harness.Run(time.Minute, "tgw", "--json", "--name", l.Name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		var tgws []api.TGWStatus
		Expect(json.Unmarshal([]byte(r.Stdout), &tgws)).To(Succeed())
		Expect(tgws).To(HaveLen(1))
		atts := map[string]api.TGWAttachmentStatus{}
		for _, a := range tgws[0].Attachments {
			atts[a.Name] = a
		}
		// Each connection enters through a spoke and twice through the
		// inspection attachment (to the appliance's AZ, then back out).
		Expect(atts["att-spoke-a"].InPackets).To(BeNumerically(">=", 3*len(ports)))
		Expect(atts["att-inspection"].InPackets).To(BeNumerically(">=", atts["att-spoke-a"].InPackets))
		Expect(atts["att-spoke-b"].OutPackets).To(BeNumerically(">=", 3*len(ports)))
		Expect(atts["att-inspection"].Drops).To(HaveEach(BeZero()))
		text := harness.Run(time.Minute, "tgw", "--name", l.Name)
		Expect(text.Code).To(Equal(0), text.Stderr)
		Expect(text.Stdout).To(ContainSubstring("route table spokes (associated: att-spoke-a, att-spoke-b)"))

		// And one appliance per flow, in both directions' flow logs.
		Eventually(func() map[int]map[string]bool { return appliancesSeeing(l, "10.1.1.10", ports) }, 10*time.Second, 200*time.Millisecond).
			Should(HaveLen(len(ports)))
		for p, fws := range appliancesSeeing(l, "10.1.1.10", ports) {
			Expect(fws).To(HaveLen(1), "port %d seen by %v", p, fws)
		}
	})

	It("#4 (spec §6.6): without appliance mode, cross-AZ flows break and same-AZ flows pass", func() {
		l := harness.Up(harness.Variant(centralized, "appliance_mode_support: true", "appliance_mode_support: false"))
		// Same AZ (az1 to az1, az2 to az2): both directions inspected in
		// the one AZ.
		l.Curl("a1", "http://10.2.1.10/")
		l.Curl("a2", "http://10.2.2.10/")
		// Across AZs: the SYN is inspected in the client's AZ, the SYN-ACK
		// reaches the server's AZ's endpoint and GWLB node, which never
		// saw the flow start.
		Expect(connect(l, "a1", "http://10.2.2.10/", portRange(44000, 3), 2)).To(BeZero())
		Eventually(func() uint64 { return l.GWLBDrops()["tcp_no_flow"] }, 10*time.Second, 100*time.Millisecond).Should(BeNumerically(">", 0))
		seen := 0
		for _, f := range l.Flows() {
			var port int
			if _, err := fmt.Sscanf(f.Src, "10.1.1.10:%d", &port); err != nil || port < 44000 || port >= 44003 {
				continue
			}
			seen++
			Expect(f.Node).To(Equal("gwlb-1-az1"), "the SYN of %+v is inspected in the client's AZ", f)
			Expect(f.ReplyPackets).To(BeZero(), "%+v: no answer comes back through az1", f)
		}
		Expect(seen).To(BeNumerically(">", 0), "no GWLB flow for the cross-AZ connections")

		// trace names both AZs: the SYN crosses the transit gateway in
		// az1, the SYN-ACK in az2, and az2's GWLB node drops it.
		traces := l.TraceWhile("10.2.2.10", func() {
			l.Exec("a1", "curl", "-s", "--max-time", "1", "--local-port", "44100", "http://10.2.2.10/")
		})
		var syn, synack *api.Trace
		for i := range traces {
			switch t := &traces[i]; {
			case t.From == "a1" && syn == nil:
				syn = t
			case t.From == "b2" && synack == nil:
				synack = t
			}
		}
		Expect(syn).NotTo(BeNil(), "traces: %+v", traces)
		Expect(synack).NotTo(BeNil(), "traces: %+v", traces)
		Expect(strings.Join(syn.Hops, "\n")).To(ContainSubstring("transit gateway tgw-1: in through attachment att-spoke-a (az az1); route table spokes: 0.0.0.0/0 static -> attachment att-inspection; out in az az1 (the AZ it entered in: AZ affinity), subnet tgw-az1 of vpc inspection"))
		Expect(strings.Join(synack.Hops, "\n")).To(ContainSubstring("transit gateway tgw-1: in through attachment att-spoke-b (az az2); route table spokes: 0.0.0.0/0 static -> attachment att-inspection; out in az az2"))
		Expect(synack.Result).To(Equal("dropped by gwlb node gwlb-1-az2: tcp_no_flow"))
	})

	It("#6 (spec §6.6): 2-tuple stickiness does not hold behind a transit gateway in appliance mode", func() {
		l := harness.Up(harness.Variant(centralized,
			"      health_check: {protocol: TCP, port: 80}", "      health_check: {protocol: TCP, port: 80}\n      stickiness: 2-tuple"))
		l.Curl("a1", "http://10.2.2.10/")
		ports := portRange(45000, 16)
		Expect(connect(l, "a1", "http://10.2.2.10/", ports, 3)).To(Equal(len(ports)))
		// One address pair, many connections: each GWLB node keeps the
		// pair on one appliance, but the transit gateway hashes each
		// connection by its 5-tuple onto either AZ, so the pair's
		// connections meet both nodes and both appliances.
		targets := map[string]bool{}
		for _, f := range l.Flows() {
			if f.Src == "10.1.1.10" && f.Dst == "10.2.2.10" || strings.HasPrefix(f.Src, "10.1.1.10:") {
				targets[f.Target] = true
			}
		}
		Expect(targets).To(Equal(map[string]bool{"fw-az1": true, "fw-az2": true}))
	})
})
