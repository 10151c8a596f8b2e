package gwlb

import (
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// reflecting is the e2e lab on a 10x clock (HTTP checks every second of
// wall time, a second to answer) whose appliances send every TCP packet
// they receive back with the addresses swapped, as Snort 3's gwlb DAQ does
// without a BPF filter, and answer their checks 200 ms late. The delay
// decides the race: the node's kernel answers a reflected ACK with a RST,
// the appliance reflects that RST into the node's own connection, and if it
// gets there before the real answer the check is reset (an appliance that
// answers at once usually wins the race, a busy one loses it every time).
func reflecting() string {
	return harness.Variant(base,
		"time_scale: 1", "time_scale: 10",
		"health_check: {protocol: TCP, port: 80}", "health_check: {protocol: HTTP, port: 80, interval: 10, timeout: 10}",
		"flow_log: true}", "flow_log: true, misbehave: {reflect_tcp: true, health_delay_ms: 200}}")
}

var _ = Describe("a GWLB node's namespace", func() {
	It("ignores what an appliance reflects, so the node's health checks pass", func() {
		l := harness.Up(reflecting())
		Eventually(func() string { return l.Targets()["fw-2"].LastProbe }, 30*time.Second, 100*time.Millisecond).ShouldNot(BeEmpty())
		// Several intervals and unhealthy thresholds later, both targets are
		// still healthy and every check passed.
		Consistently(func() map[string]string {
			out := map[string]string{}
			for name, t := range l.Targets() {
				out[name] = t.State + " " + t.LastError
			}
			return out
		}, 6*time.Second, 250*time.Millisecond).Should(Equal(map[string]string{"fw-1": "healthy ", "fw-2": "healthy "}))
		// The reflected copies of the checks' packets reached the node and
		// were ignored.
		Expect(l.GWLBDrops()["stray_to_node"]).To(BeNumerically(">", 0), "the appliances reflected nothing back to the GWLB node")
		// And traffic flows through them.
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("node web\n"))
	})
})
