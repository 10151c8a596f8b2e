package api

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/gwlblab"
	"github.com/gwlb-lab/gwlb-lab/gwlblab/matchers"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The default lab with flow logs, 20 times faster: health checks every
// 0.5 s of wall time.
var fastLab = strings.Replace(withFlowLogs, "\nvpcs:\n", "\nlab: {time_scale: 20}\nvpcs:\n", 1)

var _ = Describe("faults and route edits through gwlblab", Ordered, func() {
	var l *gwlblab.Lab

	BeforeAll(func(ctx SpecContext) {
		harness.RequireRoot()
		Expect(fastLab).To(ContainSubstring("time_scale: 20"))
		var err error
		l, err = gwlblab.Up(ctx, gwlblab.Options{Topology: []byte(fastLab), Bin: harness.Binary()})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(l.Down(context.Background())).To(Succeed()) })
		Expect(l.WaitTarget(ctx, "fw-1", api.TargetHealthy)).To(Succeed())
		Expect(l.WaitTarget(ctx, "fw-2", api.TargetHealthy)).To(Succeed())
	}, NodeTimeout(3*time.Minute))

	// newFlowTargets opens n connections from client to web and counts
	// the new GWLB flows on each appliance.
	newFlowTargets := func(ctx context.Context, n int) map[string]int {
		GinkgoHelper()
		filter := api.FlowFilter{Hosts: []string{"198.51.100.10"}, Proto: "tcp"}
		before := map[string]bool{}
		flows, err := l.Flows(ctx, filter)
		Expect(err).NotTo(HaveOccurred())
		for _, f := range flows {
			before[f.Src] = true
		}
		res, err := l.Exec(ctx, "client", "sh", "-c", fmt.Sprintf("for i in $(seq %d); do curl -s -o /dev/null --max-time 3 http://203.0.113.10/ || exit 1; done", n))
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Err()).NotTo(HaveOccurred())
		flows, err = l.Flows(ctx, filter)
		Expect(err).NotTo(HaveOccurred())
		out := map[string]int{}
		for _, f := range flows {
			if !before[f.Src] && f.Dst == "10.0.1.10:80" {
				out[f.Target]++
			}
		}
		return out
	}

	It("fails a target's health checks: new flows go to the other appliance until cleared", func(ctx SpecContext) {
		res, err := l.FailHealth(ctx, "fw-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Nodes).To(Equal([]string{"gwlb-1-az1"}))
		Expect(l.WaitTarget(ctx, "fw-1", api.TargetUnhealthy)).To(Succeed())
		ts, err := l.Targets(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(ts).To(ContainElement(And(HaveField("Target", "fw-1"), HaveField("ForcedFailure", true))))
		Expect(newFlowTargets(ctx, 12)).To(Equal(map[string]int{"fw-2": 12}))

		_, err = l.ClearHealth(ctx, "fw-1")
		Expect(err).NotTo(HaveOccurred())
		Expect(l.WaitTarget(ctx, "fw-1", api.TargetHealthy)).To(Succeed())
		_, err = l.FailHealth(ctx, "fw-9")
		Expect(err).To(MatchError(gwlblab.ErrNotFound))
	})

	It("takes a link down: the appliance behind it turns unhealthy, traffic to a node behind one is blocked", func(ctx SpecContext) {
		link, err := l.Link("fw-2").Set(ctx, gwlblab.Impairment{Down: true})
		Expect(err).NotTo(HaveOccurred())
		Expect(link.Down).To(BeTrue())
		Expect(l.WaitTarget(ctx, "fw-2", api.TargetUnhealthy)).To(Succeed(), "its health checks are dropped")
		link, err = l.Link("fw-2").Get(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(link.Dropped.Down).To(BeNumerically(">", 0))
		_, err = l.Link("fw-2").Clear(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(l.WaitTarget(ctx, "fw-2", api.TargetHealthy)).To(Succeed())

		_, err = l.Link("web").Set(ctx, gwlblab.Impairment{Down: true})
		Expect(err).NotTo(HaveOccurred())
		down := matchers.DropCounter(l, "link_down")
		Expect(matchers.TCP(l, "client", "203.0.113.10", 80)).To(matchers.BeBlocked())
		Expect(down).To(matchers.HaveRisen())
		links, err := l.Links(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(links).To(ContainElement(And(HaveField("Node", "web"), HaveField("LinkSettings.Down", true))))
		_, err = l.Link("web").Clear(ctx)
		Expect(err).NotTo(HaveOccurred())
		Eventually(matchers.TCP(l, "client", "203.0.113.10", 80)).WithTimeout(10 * time.Second).Should(matchers.Reach())

		_, err = l.Link("web").Set(ctx, gwlblab.Impairment{Jitter: time.Millisecond})
		Expect(err).To(MatchError(gwlblab.ErrBadRequest))
	})

	It("edits a route table: a blackhole route blocks, its deletion restores", func(ctx SpecContext) {
		blackhole := matchers.DropCounter(l, "blackhole")
		t, err := l.AddRoute(ctx, "app", "198.51.100.10/32", "blackhole")
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Routes).To(ContainElement(api.Route{Destination: "198.51.100.10/32", Target: "blackhole", Kind: "blackhole"}))
		got, err := l.RouteTable(ctx, "consumer/app")
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(t))
		Expect(matchers.ICMP(l, "web", "198.51.100.10")).To(matchers.BeBlocked())
		Expect(blackhole).To(matchers.HaveRisen())

		_, err = l.AddRoute(ctx, "edge", "198.51.100.0/24", "gwlbe-1")
		Expect(err).To(MatchError(gwlblab.ErrBadRequest), "a gateway route table only routes into the VPC")

		t, err = l.DeleteRoute(ctx, "app", "198.51.100.10/32", "blackhole")
		Expect(err).NotTo(HaveOccurred())
		Expect(t.Routes).NotTo(ContainElement(HaveField("Destination", "198.51.100.10/32")))
		Expect(matchers.ICMP(l, "web", "198.51.100.10")).To(matchers.Reach())
	})
})
