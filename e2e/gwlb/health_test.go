package gwlb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// fastHealth is the e2e lab on a 20x clock (health checks every 0.5 s, a
// target unhealthy after about 1 s, healthy again after 2.5 s) with a 20 s
// (1 s of wall time) deregistration delay and the given failover action.
func fastHealth(failover string) string {
	return harness.Variant(base,
		"time_scale: 1", "time_scale: 20",
		"      stickiness: 5-tuple\n", "      stickiness: 5-tuple\n      deregistration_delay: 20\n      target_failover: {on_deregistration: "+failover+", on_unhealthy: "+failover+"}\n")
}

// blockHealth makes an appliance drop health checks (its port 80), as a
// firewall rule or an overloaded box would; unblock undoes it.
func blockHealth(l *harness.Lab, node string) {
	r := l.Exec(node, "iptables", "-I", "INPUT", "-p", "tcp", "--dport", "80", "-j", "DROP")
	Expect(r.Code).To(Equal(0), r.Stderr)
}

func unblockHealth(l *harness.Lab, node string) {
	r := l.Exec(node, "iptables", "-D", "INPUT", "-p", "tcp", "--dport", "80", "-j", "DROP")
	Expect(r.Code).To(Equal(0), r.Stderr)
}

var _ = Describe("health checks", func() {
	It("probe each target from the GWLB node's address and steer new flows away from a failing one", func() {
		l := harness.Up(fastHealth("no_rebalance"))
		// Checks pass: real probes crossed the lab and found the responders.
		Eventually(func() string { return l.Targets()["fw-1"].LastProbe }, 30*time.Second, 100*time.Millisecond).ShouldNot(BeEmpty())
		Expect(l.Targets()["fw-1"].LastError).To(BeEmpty())
		Expect(l.Targets()["fw-2"].State).To(Equal("healthy"))

		blockHealth(l, "fw-1")
		l.WaitTarget("fw-1", "unhealthy")
		Expect(l.Targets()["fw-1"].Reason).To(Equal("Target.FailedHealthChecks"))
		s := l.Status()
		Expect(s.Counters.GWLB[0].HealthyHostCount).To(Equal(1))
		Expect(s.Counters.GWLB[0].UnHealthyHostCount).To(Equal(1))
		Expect(l.NewFlowTargets(20)).To(Equal(map[string]int{"fw-2": 20}), "new flows only to the healthy target")

		unblockHealth(l, "fw-1")
		l.WaitTarget("fw-1", "healthy")
		Expect(l.NewFlowTargets(30)).To(HaveLen(2), "both targets take new flows again")
	})

	It("pin new flows when every target is unhealthy and drop them until it recovers (spec §4.3)", func() {
		l := harness.Up(fastHealth("no_rebalance"))
		blockHealth(l, "fw-1")
		blockHealth(l, "fw-2")
		l.WaitTarget("fw-1", "unhealthy")
		l.WaitTarget("fw-2", "unhealthy")
		l.Fails("client", "http://203.0.113.10/")
		Expect(l.GWLBDrops()["target_unavailable"]).To(BeNumerically(">", 0))
		unblockHealth(l, "fw-1")
		unblockHealth(l, "fw-2")
		l.WaitTarget("fw-1", "healthy")
		l.WaitTarget("fw-2", "healthy")
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("remote 198.51.100.10:"))
	})

	It("drain a deregistered target, then leave it unused until it registers again", func() {
		l := harness.Up(fastHealth("no_rebalance"))
		r := harness.Run(time.Minute, "targets", "deregister", "--name", l.Name, "fw-1")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("draining"))
		Expect(l.NewFlowTargets(20)).To(Equal(map[string]int{"fw-2": 20}))
		l.WaitTarget("fw-1", "unused")
		r = harness.Run(time.Minute, "targets", "register", "--name", l.Name, "fw-1")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(l.Targets()["fw-1"].State).To(BeElementOf("initial", "healthy"))
		l.WaitTarget("fw-1", "healthy")
		Expect(l.NewFlowTargets(30)).To(HaveLen(2))
	})
})

// keepAliveThroughFailover opens one HTTP keep-alive connection from client
// to web and sends a request; then it fails the health checks of the
// appliance carrying the connection, waits for that appliance to be
// unhealthy, and sends a second request on the same connection. It returns
// the flow as it was before, what the client printed, and the client's
// error: nil when the second answer came back.
func keepAliveThroughFailover(l *harness.Lab) (api.Flow, string, error) {
	goFile := filepath.Join(GinkgoT().TempDir(), "go")
	script := fmt.Sprintf(`exec 3<>/dev/tcp/203.0.113.10/80
printf 'GET / HTTP/1.1\r\nHost: web\r\n\r\n' >&3
# Read the whole first answer: its body ends with the "local" line.
while read -r -t 3 line <&3; do case "$line" in local*) break ;; esac; done
[ "${line%%%% *}" = local ] || exit 10
while [ ! -e %s ]; do sleep 0.05; done
printf 'GET /again HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n' >&3
timeout 5 cat <&3 | grep -q '^node web' || exit 20`, goFile)
	cmd := exec.Command(harness.Binary(), "exec", "--name", l.Name, "client", "--", "bash", "-c", script)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	Expect(cmd.Start()).To(Succeed())
	var flow api.Flow
	Eventually(func() int {
		fl := l.Flows()
		if len(fl) == 1 {
			flow = fl[0]
		}
		return len(fl)
	}, 20*time.Second, 50*time.Millisecond).Should(Equal(1))
	blockHealth(l, flow.Target)
	l.WaitTarget(flow.Target, "unhealthy")
	Expect(os.WriteFile(goFile, nil, 0o644)).To(Succeed())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	Eventually(done, 30*time.Second).Should(Receive(&err))
	return flow, out.String(), err
}

var _ = Describe("target failover (spec §4.4)", func() {
	DescribeTable("moves an established flow off an unhealthy target only with rebalance",
		func(action string, moves bool) {
			l := harness.Up(fastHealth(action))
			flow, out, err := keepAliveThroughFailover(l)
			Expect(err).NotTo(HaveOccurred(), "keep-alive client: %s; drops %v", out, l.GWLBDrops())
			after := l.Flows()
			Expect(after).To(HaveLen(1))
			Expect(after[0].Cookie).To(Equal(flow.Cookie), "a moved flow keeps its cookie")
			Expect(after[0].Src).To(Equal(flow.Src))
			if moves {
				Expect(after[0].Target).NotTo(Equal(flow.Target), "rebalance moves the flow")
			} else {
				Expect(after[0].Target).To(Equal(flow.Target), "no_rebalance keeps the flow on its target")
			}
		},
		Entry("no_rebalance (the default)", "no_rebalance", false),
		Entry("rebalance", "rebalance", true),
	)
})
