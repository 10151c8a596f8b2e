package gwlb

import (
	"context"
	"strings"
	"syscall"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// withSpareAppliance is fastHealth with a third appliance, fw-3, that the
// target group does not list.
func withSpareAppliance() string {
	return harness.Variant(fastHealth("no_rebalance"), "      fw-2:\n", `      fw-3:
        subnet: appliances
        private_ip: 10.20.1.13
        run: {appliance: {mode: forward, health_port: 80, flow_log: true}}
      fw-2:
`)
}

var _ = Describe("targets registered at run time", func() {
	It("register an instance the file does not list, give it new flows once healthy, drain it, and log the sequence", func(ctx SpecContext) {
		l := harness.Up(withSpareAppliance())
		Expect(l.Targets()).NotTo(HaveKey("fw-3"))

		r := harness.Run(time.Minute, "targets", "register", "fw-3", "--name", l.Name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("target fw-3: initial"))
		Expect(l.Targets()).To(HaveKey("fw-3"))
		l.WaitTarget("fw-3", "healthy")

		got := l.NewFlowTargets(30)
		Expect(got).To(HaveKey("fw-3"), "new flows reach the new target")
		Expect(l.FlowLog("fw-3")).NotTo(BeEmpty(), "fw-3 saw the flows in its own log")

		r = harness.Run(time.Minute, "targets", "deregister", "fw-3", "--gwlb", "gwlb-1", "--name", l.Name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(l.Targets()["fw-3"].State).To(Equal("draining"))
		Expect(l.NewFlowTargets(20)).NotTo(HaveKey("fw-3"), "no new flow to a draining target")
		l.WaitTarget("fw-3", "unused") // after the 20 s (lab) deregistration delay

		var kinds []string
		Eventually(func() []string {
			evs, err := l.G().Events(ctx)
			Expect(err).NotTo(HaveOccurred())
			kinds = kinds[:0]
			for _, e := range evs {
				if e.Target == "fw-3" {
					kinds = append(kinds, strings.TrimSpace(e.Kind+" "+e.State+" "+e.Reason))
				}
			}
			return kinds
		}).WithTimeout(10 * time.Second).Should(Equal([]string{
			"target_registered initial Elb.InitialHealthChecking",
			"target_state healthy",
			"target_deregistered draining Target.DeregistrationInProgress",
			"draining_ended unused Target.NotRegistered",
		}))

		r = harness.Run(time.Minute, "events", "--name", l.Name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("emulator_start"))
		Expect(r.Stdout).To(ContainSubstring("target=fw-3 ip=10.20.1.13 state=draining reason=Target.DeregistrationInProgress"))
	})

	It("outlive an emulator restart", func() {
		l := harness.Up(withSpareAppliance())
		_, err := l.G().RegisterIn(context.Background(), "fw-3", "gwlb-1")
		Expect(err).NotTo(HaveOccurred())
		l.WaitTarget("fw-3", "healthy")
		before := l.Status().Emulator.PID
		Expect(syscall.Kill(before, syscall.SIGKILL)).To(Succeed())
		Eventually(func() int { return harness.Run(time.Minute, "status", "--name", l.Name).Code }, 10*time.Second, 50*time.Millisecond).Should(Equal(4), "degraded once the emulator is dead")
		r := harness.Run(time.Minute, "emulator", "restart", "--name", l.Name)
		Expect(r.Code).To(Equal(0), "restart: %s%s", r.Stdout, r.Stderr)
		Expect(l.Status().Emulator.PID).NotTo(Equal(before))
		Expect(l.Targets()).To(HaveKey("fw-3"), "the registration was applied again")
		l.WaitTarget("fw-3", "healthy")
		Expect(l.NewFlowTargets(30)).To(HaveKey("fw-3"))
	})

	It("refuse what is not an instance, naming the lab's instances", func() {
		l := harness.Up(withSpareAppliance())
		r := harness.Run(time.Minute, "targets", "register", "fw-9", "--name", l.Name)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("its instances: fw-1, fw-2, fw-3, web"))
		r = harness.Run(time.Minute, "targets", "register", "client", "--name", l.Name)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("internet host"))
		_, err := l.G().RegisterIn(context.Background(), "fw-3", "nope")
		Expect(err).To(HaveOccurred())
		Expect(l.Targets()).NotTo(HaveKey("fw-3"))
	})
})
