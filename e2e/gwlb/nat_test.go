package gwlb

import (
	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const natLab = "testdata/nat.yaml"

// directions returns, per direction, whether fw-1 logged TCP from web's
// private address to the client or back.
func directions(l *harness.Lab) map[string]bool {
	dirs := map[string]bool{}
	for _, r := range l.FlowLog("fw-1") {
		if r.Proto != 6 {
			continue
		}
		if (r.Src == "10.0.1.10" && r.Dst == "198.51.100.10") || (r.Src == "198.51.100.10" && r.Dst == "10.0.1.10") {
			dirs[r.Dir] = true
		}
	}
	return dirs
}

var _ = Describe("inspect, then NAT (spec §6.4)", func() {
	It("inspects both directions with the instance's private address, and NATs after", func() {
		l := harness.Up(natLab)
		Expect(l.Curl("web", "http://198.51.100.10/")).To(ContainSubstring("remote 203.0.113.20:"))
		Expect(directions(l)).To(Equal(map[string]bool{"original": true, "reply": true}))
	})
	It("#7 (spec §6.6): without the NAT subnet's route back through the endpoint, replies skip inspection", func() {
		l := harness.Up(harness.Variant(natLab, "          - {destination: 10.0.0.0/16, target: gwlbe-1}\n", ""))
		// GWLB supports this asymmetry: traffic flows, the appliance sees
		// one direction only (spec §3.2).
		Expect(l.Curl("web", "http://198.51.100.10/")).To(ContainSubstring("remote 203.0.113.20:"))
		Expect(directions(l)).To(Equal(map[string]bool{"original": true}))
	})
})
