package gwlb

import (
	"encoding/json"
	"syscall"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/lab"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("a dead emulator", func() {
	It("makes status say degraded, and emulator restart brings traffic back", func() {
		l := harness.Up(base)
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("node web\n"))
		before := l.Status()
		Expect(before.Degraded).To(BeFalse())
		Expect(syscall.Kill(before.Emulator.PID, syscall.SIGKILL)).To(Succeed())

		// SIGKILL takes a moment to end the process; until then status may
		// see it running but not answering, which is degraded too.
		var s lab.Status
		Eventually(func(g Gomega) {
			r := harness.Run(time.Minute, "status", "--json", "--name", l.Name)
			g.Expect(json.Unmarshal([]byte(r.Stdout), &s)).To(Succeed(), r.Stderr)
			g.Expect(s.Emulator.Running).To(BeFalse())
			g.Expect(r.Code).To(Equal(4), "status exits 4 for a degraded lab")
		}, 10*time.Second, 50*time.Millisecond).Should(Succeed())
		Expect(s.Degraded).To(BeTrue())
		Expect(s.Problems).To(ContainElement(ContainSubstring("emulator restart")))
		r := harness.Run(time.Minute, "status", "--name", l.Name)
		Expect(r.Code).To(Equal(4))
		Expect(r.Stdout).To(ContainSubstring("DEGRADED"))
		l.Fails("client", "http://203.0.113.10/")

		r = harness.Run(time.Minute, "emulator", "restart", "--name", l.Name)
		Expect(r.Code).To(Equal(0), "restart: %s%s", r.Stdout, r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("flows"), "it says what is lost")
		after := l.Status()
		Expect(after.Degraded).To(BeFalse())
		Expect(after.Emulator.PID).NotTo(Equal(before.Emulator.PID))
		Expect(after.Counters.Ports).To(HaveLen(len(before.Counters.Ports)), "the same TAPs")
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("node web\n"))
	})
})
