package api

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/gwlblab"
	"github.com/gwlb-lab/gwlb-lab/gwlblab/matchers"
	"github.com/gwlb-lab/gwlb-lab/scenarios"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The default lab with flow logs on the appliances.
var withFlowLogs = strings.ReplaceAll(string(scenarios.Default()),
	"run: {appliance: {mode: forward, health_port: 80}}",
	"run: {appliance: {mode: forward, health_port: 80, flow_log: true}}")

var _ = Describe("the default lab through gwlblab", Ordered, func() {
	var l *gwlblab.Lab

	BeforeAll(func(ctx SpecContext) {
		harness.RequireRoot()
		Expect(withFlowLogs).To(ContainSubstring("flow_log: true"))
		var err error
		l, err = gwlblab.Up(ctx, gwlblab.Options{Topology: []byte(withFlowLogs), Bin: harness.Binary()})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			Expect(l.Down(context.Background())).To(Succeed())
			_, err := os.Stat(l.StateDir())
			Expect(os.IsNotExist(err)).To(BeTrue(), "state directory left: %v", err)
		})
	}, NodeTimeout(3*time.Minute))

	It("knows the lab: its state, its emulator, its nodes and its targets", func(ctx SpecContext) {
		Expect(l.StateDir()).To(Equal(filepath.Join("/run/gwlb-lab", l.Name())))
		s, err := l.Status(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Phase).To(Equal("up"))
		emu, err := l.Emulator(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(emu.Lab).To(Equal(l.Name()))
		Expect(emu.PID).To(Equal(s.Emulator.PID))
		web, err := l.NodeInfo(ctx, "web")
		Expect(err).NotTo(HaveOccurred())
		Expect(web.PublicIP).To(Equal("203.0.113.10"))

		Expect(l.WaitTarget(ctx, "fw-1", api.TargetHealthy)).To(Succeed())
		Expect(l.WaitTarget(ctx, "10.20.1.12", api.TargetHealthy)).To(Succeed(), "a target by its address")
		ts, err := l.Targets(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(ts).To(ConsistOf(
			And(HaveField("Target", "fw-1"), HaveField("Node", "gwlb-1-az1"), HaveField("State", "healthy")),
			And(HaveField("Target", "fw-2"), HaveField("Node", "gwlb-1-az1"), HaveField("State", "healthy"))))
		eps, err := l.Endpoints(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(eps).To(ConsistOf(And(HaveField("Name", "gwlbe-1"), HaveField("State", api.EndpointAvailable))))
	})

	It("sends traffic and finds its flows, its traces and its flow log records", func(ctx SpecContext) {
		var body string
		traces, err := l.Trace(ctx, gwlblab.TraceFilter{Hosts: []string{"198.51.100.10"}}, func() error {
			var err error
			body, err = l.Curl(ctx, "client", "http://203.0.113.10/")
			return err
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(body).To(ContainSubstring("node web"))
		Expect(traces).To(ContainElement(And(HaveField("From", "client"), HaveField("Result", ContainSubstring("delivered")))))
		Expect(traces).To(ContainElement(HaveField("Hops", ContainElement(ContainSubstring("gwlbe-1")))))

		Expect(l.TCP(ctx, "client", "203.0.113.10", 80)).To(Succeed())
		echo, err := l.UDP(ctx, "client", "203.0.113.10", 80, "hello")
		Expect(err).NotTo(HaveOccurred())
		Expect(echo).To(ContainSubstring("remote 198.51.100.10:"))
		Expect(l.Ping(ctx, "web", "198.51.100.10")).To(Succeed())

		flows, err := l.Flows(ctx, api.FlowFilter{Hosts: []string{"198.51.100.10"}, Proto: "tcp"})
		Expect(err).NotTo(HaveOccurred())
		Expect(flows).NotTo(BeEmpty())
		Expect(flows).To(HaveEach(And(HaveField("Proto", uint8(6)), HaveField("Target", BeElementOf("fw-1", "fw-2")))))
		udp, err := l.Flows(ctx, api.FlowFilter{Proto: "udp"})
		Expect(err).NotTo(HaveOccurred())
		Expect(udp).To(ContainElement(HaveField("Src", HavePrefix("198.51.100.10:"))))
		_, err = l.Flows(ctx, api.FlowFilter{Target: "fw-9"})
		Expect(err).To(MatchError(gwlblab.ErrNotFound))

		Eventually(func() ([]string, error) {
			var dirs []string
			for _, fw := range []string{"fw-1", "fw-2"} {
				recs, err := l.FlowLog(ctx, fw)
				if err != nil {
					return nil, err
				}
				for _, r := range recs {
					if r.Proto == 6 && (r.Src == "198.51.100.10" || r.Dst == "198.51.100.10") {
						dirs = append(dirs, r.Dir)
					}
				}
			}
			return dirs, nil
		}).WithContext(ctx).WithTimeout(10 * time.Second).Should(ContainElements("original", "reply"))

		c, err := l.Counters(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(c.GWLB).To(ContainElement(HaveField("NewFlowCount", BeNumerically(">", 0))))
		Expect(c.Drops).To(HaveKey("no_route"))
	})

	It("captures a node's port to a pcap file", func(ctx SpecContext) {
		path := filepath.Join(GinkgoT().TempDir(), "web.pcap")
		n, err := l.CaptureWhile(ctx, "web", path, func() error {
			_, err := l.Curl(ctx, "client", "http://203.0.113.10/")
			return err
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(BeNumerically(">=", 6), "a TCP connection's frames at web")
		st, err := os.Stat(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(st.Size()).To(BeNumerically(">", 24))
	})

	It("states what the lab does with the gwlblab matchers", func() {
		Eventually(matchers.Target(l, "fw-1")).Should(matchers.BeInState(api.TargetHealthy))
		noRoute := matchers.DropCounter(l, "internet_no_route")
		notAccepted := matchers.DropCounter(l, "endpoint_not_accepted")

		Expect(matchers.TCP(l, "client", "203.0.113.10", 80)).To(matchers.Reach())
		Expect(matchers.UDP(l, "client", "203.0.113.10", 80)).To(matchers.Reach())
		Expect(matchers.ICMP(l, "web", "198.51.100.10")).To(matchers.Reach())
		// A private address is not routed on the internet.
		Expect(matchers.ICMP(l, "client", "10.0.1.10")).To(matchers.BeBlocked())
		Expect(noRoute).To(matchers.HaveRisen())
		Expect(notAccepted).To(matchers.StayZero())

		Eventually(matchers.Conn(l, "198.51.100.10", "10.0.1.10", "tcp")).WithTimeout(10 * time.Second).Should(matchers.BeSymmetric())
		Eventually(matchers.Conn(l, "198.51.100.10", "10.0.1.10", "icmp")).WithTimeout(10 * time.Second).Should(matchers.BeSymmetric())
	})

	It("deregisters and registers a target", func(ctx SpecContext) {
		ch, err := l.Deregister(ctx, "fw-2")
		Expect(err).NotTo(HaveOccurred())
		Expect(ch.State).To(Equal(api.TargetDraining))
		Expect(l.WaitTarget(ctx, "fw-2", api.TargetDraining)).To(Succeed())
		// Registered again, it starts over as initial (and turns healthy
		// on the next regular checks, too slow to wait for here).
		ch, err = l.Register(ctx, "fw-2")
		Expect(err).NotTo(HaveOccurred())
		Expect(ch.State).To(Equal(api.TargetInitial))
		Expect(l.WaitTarget(ctx, "fw-2", api.TargetInitial)).To(Succeed())
		_, err = l.Register(ctx, "fw-9")
		Expect(err).To(MatchError(gwlblab.ErrNotFound))
	})
})
