package gwlb

import (
	"path/filepath"
	"time"

	"github.com/gwlb-lab/gwlb-lab/appliance"
	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// An appliance that listens only 3 s after the lab starts: the reference
// appliance behind `sh -c "sleep 3; exec ..."`, the only target. Targets
// start initial (spec §4.2), so no flow may reach it before its first
// check passes.
var _ = Describe("a slow-starting appliance", func() {
	slow := func() string {
		cmd := `{command: [sh, -c, 'sleep 3; echo "{\"mode\":\"forward\",\"health_port\":80,\"default_action\":\"allow\",\"flow_log\":true,\"gwlb_nodes\":[\"$GWLB_NODES\"]}" > appliance.json; exec ` +
			harness.Binary() + ` appliance --config appliance.json --flow-log "$GWLB_LOGDIR/flows.jsonl"']}`
		return harness.Variant("testdata/gwlb.yaml",
			"run: {appliance: {mode: forward, health_port: 80, flow_log: true}}\n      fw-2:", "run: "+cmd+"\n      fw-2:",
			"targets: [fw-1, fw-2]", "targets: [fw-1]")
	}
	flowLog := func(l *harness.Lab) []appliance.FlowRecord {
		out, err := appliance.ReadFlowLog(filepath.Join(l.StateDir(), "logs", "fw-1", "flows.jsonl"))
		Expect(err).NotTo(HaveOccurred())
		return out
	}

	It("makes up wait for its first healthy verdict, and the first request passes through it", func() {
		start := time.Now()
		l := harness.Up(slow())
		Expect(time.Since(start)).To(BeNumerically(">=", 3*time.Second), "up returned before the appliance listened")
		Expect(l.Targets()["fw-1"].State).To(Equal("healthy"))
		r := l.Exec("client", "curl", "-s", "--max-time", "5", "http://203.0.113.10/")
		Expect(r.Code).To(Equal(0), "the first request after up: %s", r.Stderr)
		Expect(flowLog(l)).NotTo(BeEmpty())
		Expect(l.GWLBDrops()).To(HaveKeyWithValue("target_unavailable", BeZero()))
	})

	It("sends no flow to it before that verdict when up does not wait", func() {
		l := harness.Up(slow(), "--no-wait")
		Expect(l.Targets()["fw-1"].State).To(Equal("initial"))
		r := l.Exec("client", "curl", "-s", "--max-time", "1", "http://203.0.113.10/")
		Expect(r.Code).NotTo(Equal(0), "a request passed through an appliance that never answered a check")
		Expect(l.GWLBDrops()).To(HaveKeyWithValue("target_unavailable", BeNumerically(">", 0)))
		l.WaitTarget("fw-1", "healthy")
		l.Curl("client", "http://203.0.113.10/")
		Expect(flowLog(l)).NotTo(BeEmpty())
	})
})
