package gwlb

import (
	"time"

	"github.com/gwlb-lab/gwlb-lab/appliance"
	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const forwardRun = "run: {appliance: {mode: forward, health_port: 80, flow_log: true}}"

// firewallRun is the reference appliance in firewall mode: TCP to port 80
// allowed, everything else denied.
const firewallRun = "run: {appliance: {mode: firewall, health_port: 80, flow_log: true, default_action: deny, rules: [{action: allow, protocol: tcp, port: 80}]}}"

// drops returns the flow-log drop records of both appliances.
func drops(l *harness.Lab) []appliance.FlowRecord {
	var out []appliance.FlowRecord
	for _, fw := range []string{"fw-1", "fw-2"} {
		for _, r := range l.FlowLog(fw) {
			if r.Event == "drop" {
				out = append(out, r)
			}
		}
	}
	return out
}

var _ = Describe("the reference appliance as a stateful firewall", func() {
	It("applies its rules to connections and logs what it denies", func() {
		l := harness.Up(harness.Variant(base, forwardRun, firewallRun))
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("remote 198.51.100.10:"))
		r := l.Exec("client", harness.Binary(), "probe", "--timeout", "2s", "203.0.113.10:80")
		Expect(r.Code).NotTo(Equal(0), "UDP passed a deny-by-default firewall: %s", r.Stdout)
		Eventually(func() []appliance.FlowRecord { return drops(l) }, 10*time.Second, 100*time.Millisecond).
			Should(ContainElement(And(HaveField("Proto", uint8(17)), HaveField("Reason", appliance.ReasonDenied))))
	})

	// Spec §4.4: with rebalance, a flow moved off an unhealthy appliance
	// arrives mid-stream at one that never saw it start — and a stateful
	// firewall drops it. With no_rebalance it stays where its state is.
	DescribeTable("meets target failover",
		func(failover string, survives bool) {
			l := harness.Up(harness.Variant(fastHealth(failover), forwardRun, firewallRun))
			_, out, err := keepAliveThroughFailover(l)
			if survives {
				Expect(err).NotTo(HaveOccurred(), "the connection broke: %s", out)
				return
			}
			Expect(err).To(HaveOccurred(), "the connection survived a move to a stateless appliance: flows %+v", l.Flows())
			Expect(drops(l)).To(ContainElement(HaveField("Reason", appliance.ReasonNoConnection)))
		},
		Entry("no_rebalance: the connection survives on its appliance", "no_rebalance", true),
		Entry("rebalance: the new appliance drops the mid-stream packets", "rebalance", false),
	)
})
