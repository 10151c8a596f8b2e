package gwlb

import (
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/lab"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// gwlb-lab node stop|start|restart|pause|unpause act on an appliance's
// program and keep its links: traffic flows again without down/up.
var _ = Describe("node lifecycle verbs", Ordered, func() {
	var l *harness.Lab
	BeforeAll(func() {
		// Fast checks: 5 s interval on a 5x clock, thresholds of 2.
		l = harness.Up(harness.Variant("testdata/gwlb.yaml",
			"time_scale: 1", "time_scale: 5",
			"health_check: {protocol: TCP, port: 80}",
			"health_check: {protocol: TCP, port: 80, interval: 5, timeout: 2, healthy_threshold: 2, unhealthy_threshold: 2}"))
		l.Curl("client", "http://203.0.113.10/")
	})
	node := func(name string) lab.NodeStatus {
		for _, n := range l.Status().Nodes {
			if n.Name == name {
				return n
			}
		}
		Fail("no node " + name)
		return lab.NodeStatus{}
	}
	verb := func(args ...string) {
		r := harness.Run(time.Minute, append(append([]string{"node"}, args...), "--name", l.Name)...)
		Expect(r.Code).To(Equal(0), "node %v: %s%s", args, r.Stdout, r.Stderr)
	}

	It("stop takes an appliance's target out; traffic goes through the other", func() {
		verb("stop", "fw-1")
		Expect(node("fw-1").Running).To(BeFalse())
		l.WaitTarget("fw-1", "unhealthy")
		toFW1 := func() int {
			n := 0
			for _, f := range l.Flows() {
				if f.Target == "fw-1" {
					n++
				}
			}
			return n
		}
		before := toFW1()
		l.Curl("client", "http://203.0.113.10/")
		Expect(toFW1()).To(Equal(before), "a new flow went to the stopped appliance")
	})

	It("start brings it back on its old links", func() {
		verb("start", "fw-1")
		Expect(node("fw-1").Running).To(BeTrue())
		l.WaitTarget("fw-1", "healthy")
		verb("stop", "fw-2")
		l.WaitTarget("fw-2", "unhealthy")
		// Only fw-1 is left: a request passing proves its links work.
		l.Curl("client", "http://203.0.113.10/")
		verb("start", "fw-2")
		l.WaitTarget("fw-2", "healthy")
	})

	It("restart gives a new program that carries traffic", func() {
		before := node("fw-2").PID
		verb("restart", "fw-2")
		Expect(node("fw-2").PID).NotTo(Equal(before))
		Expect(node("fw-2").Running).To(BeTrue())
		verb("stop", "fw-1")
		l.WaitTarget("fw-1", "unhealthy")
		l.Curl("client", "http://203.0.113.10/")
		verb("start", "fw-1")
		l.WaitTarget("fw-1", "healthy")
	})

	It("pause freezes both appliances and unpause lets traffic pass again", func() {
		verb("pause", "fw-1")
		verb("pause", "fw-2")
		Expect(node("fw-1").Paused).To(BeTrue())
		l.Fails("client", "http://203.0.113.10/")
		verb("unpause", "fw-1")
		verb("unpause", "fw-2")
		Expect(node("fw-1").Paused).To(BeFalse())
		l.Curl("client", "http://203.0.113.10/")
	})
})
