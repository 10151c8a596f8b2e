package gwlb

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
			goFile := filepath.Join(GinkgoT().TempDir(), "go")
			script := fmt.Sprintf(`exec 3<>/dev/tcp/203.0.113.10/80
printf 'GET / HTTP/1.1\r\nHost: web\r\n\r\n' >&3
# Read the whole first answer: its body ends with the "local" line.
while read -r -t 3 line <&3; do case "$line" in local*) break ;; esac; done
[ "${line%% *}" = local ] || exit 10
while [ ! -e %s ]; do sleep 0.05; done
printf 'GET /again HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n' >&3
timeout 3 cat <&3 | grep -q '^node web' || exit 20`, goFile)
			cmd := exec.Command(harness.Binary(), "exec", "--name", l.Name, "client", "--", "bash", "-c", script)
			var out strings.Builder
			cmd.Stdout, cmd.Stderr = &out, &out
			Expect(cmd.Start()).To(Succeed())
			var target string
			Eventually(func() int {
				fl := l.Flows()
				if len(fl) == 1 {
					target = fl[0].Target
				}
				return len(fl)
			}, 20*time.Second, 50*time.Millisecond).Should(Equal(1))
			blockHealth(l, target)
			waitState(l, target, "unhealthy")
			Expect(os.WriteFile(goFile, nil, 0o644)).To(Succeed())
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var err error
			Eventually(done, 30*time.Second).Should(Receive(&err))
			if survives {
				Expect(err).NotTo(HaveOccurred(), "the connection broke: %s", out.String())
				return
			}
			Expect(err).To(HaveOccurred(), "the connection survived a move to a stateless appliance: flows %+v, logs %+v %+v", l.Flows(), l.FlowLog("fw-1"), l.FlowLog("fw-2"))
			Expect(drops(l)).To(ContainElement(HaveField("Reason", appliance.ReasonNoConnection)))
		},
		Entry("no_rebalance: the connection survives on its appliance", "no_rebalance", true),
		Entry("rebalance: the new appliance drops the mid-stream packets", "rebalance", false),
	)
})
