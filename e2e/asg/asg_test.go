package asg

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/appliance"
	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// fleetLab is the default lab whose target group has no listed target:
// its appliances are the instances of group fleet, in subnets appliances
// (az1) and appliances-b (az2), behind a GWLB enabled in both AZs with
// cross-zone load balancing on (the consumer's endpoint is in az1). group is the
// group's YAML (under "  fleet:"), timing the lab section.
func fleetLab(labSection, hc, group string) string {
	return harness.Variant(filepath.Join(harness.RepoRoot(), "scenarios", "default.yaml"),
		"vpcs:\n  consumer:", labSection+"\nvpcs:\n  consumer:",
		"      appliances: {az: az1, cidr: 10.20.1.0/24, route_table: main}",
		"      appliances: {az: az1, cidr: 10.20.1.0/24, route_table: main}\n      appliances-b: {az: az2, cidr: 10.20.11.0/24, route_table: main}\n      gwlb-b: {az: az2, cidr: 10.20.10.0/24, route_table: main}",
		"    subnets: {gwlb: 10.20.0.50}", "    subnets: {gwlb: 10.20.0.50, gwlb-b: }\n    cross_zone: true",
		"      health_check: {protocol: TCP, port: 80}\n      targets: [fw-1, fw-2]", "      health_check: "+hc+"\n      deregistration_delay: 30",
		defaultGroup, "autoscaling_groups:\n  fleet:\n"+group,
	)
}

// defaultGroup is the default lab's own group, which fleetLab replaces.
const defaultGroup = `autoscaling_groups:
  fleet:
    vpc: security
    subnets: [appliances]
    launch_template:
      run: {appliance: {mode: forward, health_port: 80}}
    min: 0
    max: 4
    desired: 0
    target_groups: [fw-targets]`

const fleetBase = `    vpc: security
    subnets: [appliances, appliances-b]
    launch_template:
      run: {appliance: {mode: forward}}
    target_groups: [fw-targets]`

// describe returns the group.
func describe(l *harness.Lab) api.ASG {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := l.G().DescribeASG(ctx, "fleet")
	Expect(err).NotTo(HaveOccurred())
	return g
}

// states is "name:state" of the group's live instances.
func states(l *harness.Lab) string {
	var out []string
	for _, i := range describe(l).Instances {
		out = append(out, i.Name+":"+i.State)
	}
	return strings.Join(out, " ")
}

func setDesired(l *harness.Lab, n int) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := l.G().SetDesired(ctx, "fleet", n)
	Expect(err).NotTo(HaveOccurred())
}

// targetStates is each instance's state in fw-targets.
func targetStates(l *harness.Lab) map[string]string {
	out := map[string]string{}
	for _, i := range describe(l).Instances {
		out[i.Name] = i.Targets["fw-targets"]
	}
	return out
}

func namespaceExists(l *harness.Lab, node string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", topology.NetnsName(l.Name, node)))
	return err == nil
}

var _ = Describe("an auto scaling group", func() {
	It("scales out 2 -> 4 under traffic: new instances start initial and take no flow until healthy; old flows stay", func() {
		// Slow checks (about 12 s of wall time from registration to
		// healthy) make initial long enough to look at.
		l := harness.Up(fleetLab("lab: {time_scale: 5}", "{protocol: TCP, port: 80, interval: 20, healthy_threshold: 3}",
			fleetBase+"\n    min: 1\n    max: 4\n    desired: 2"))
		Eventually(func() map[string]string { return targetStates(l) }, 90*time.Second, 500*time.Millisecond).
			Should(Equal(map[string]string{"fleet-1": "healthy", "fleet-2": "healthy"}))
		g := describe(l)
		Expect([]string{g.Instances[0].AZ, g.Instances[1].AZ}).To(Equal([]string{"az1", "az2"}), "one instance per AZ")
		first := l.NewFlowTargets(8)
		Expect(first).To(HaveLen(2), "flows %v", first)
		before := map[string]string{}
		for _, f := range l.Flows() {
			before[f.Src] = f.Target
		}

		setDesired(l, 4)
		Eventually(func() map[string]string { return targetStates(l) }, 60*time.Second, 200*time.Millisecond).
			Should(SatisfyAll(HaveKeyWithValue("fleet-3", "initial"), HaveKeyWithValue("fleet-4", "initial")))
		// While they are initial, no new flow goes to them.
		Expect(l.NewFlowTargets(8)).To(SatisfyAll(Not(HaveKey("fleet-3")), Not(HaveKey("fleet-4"))))
		for _, n := range []string{"fleet-3", "fleet-4"} {
			Expect(targetStates(l)[n]).To(Equal("initial"), "%s turned healthy before the check: make the checks slower", n)
		}
		Eventually(func() map[string]string { return targetStates(l) }, 60*time.Second, 500*time.Millisecond).
			Should(Equal(map[string]string{"fleet-1": "healthy", "fleet-2": "healthy", "fleet-3": "healthy", "fleet-4": "healthy"}))
		g = describe(l)
		Expect([]string{g.Instances[2].AZ, g.Instances[3].AZ}).To(Equal([]string{"az1", "az2"}))
		// Then new flows reach them, and the flows from before stay where
		// they were.
		after := l.NewFlowTargets(24)
		Expect(after["fleet-3"]+after["fleet-4"]).To(BeNumerically(">", 0), "new flows %v", after)
		for _, f := range l.Flows() {
			if t, ok := before[f.Src]; ok {
				Expect(f.Target).To(Equal(t), "flow %s moved", f.Src)
			}
		}
	})

	It("replaces an instance whose program dies, keeps AZs balanced, and drains before it terminates", func() {
		l := harness.Up(fleetLab("lab: {time_scale: 10}", "{protocol: TCP, port: 80, interval: 5, healthy_threshold: 2}",
			fleetBase+"\n    min: 1\n    max: 4\n    desired: 3\n    health_check_grace_period: 20"))
		Eventually(func() string { return states(l) }, 90*time.Second, 500*time.Millisecond).
			Should(Equal("fleet-1:InService fleet-2:InService fleet-3:InService"))
		var azs []string
		for _, i := range describe(l).Instances {
			azs = append(azs, i.AZ)
		}
		Expect(azs).To(Equal([]string{"az1", "az2", "az1"}))

		// fleet-2's program dies: after the grace period it is replaced,
		// in az2, the AZ it leaves short.
		harness.Run(time.Minute, "node", "stop", "fleet-2", "--name", l.Name)
		Eventually(func() string { return states(l) }, 60*time.Second, 500*time.Millisecond).
			Should(Equal("fleet-1:InService fleet-3:InService fleet-4:InService"))
		g := describe(l)
		Expect(g.Instances[2].AZ).To(Equal("az2"))
		Expect(g.Instances[2].Reason).To(Equal(api.ASGReasonReplacement))
		Expect(g.Terminated).To(ContainElement(SatisfyAll(HaveField("Name", "fleet-2"), HaveField("Reason", api.ASGReasonUnhealthyEC2))))
		Expect(namespaceExists(l, "fleet-2")).To(BeFalse(), "fleet-2's namespace is left")

		// Scale in to 2: az1 has two, so its oldest (fleet-1) goes, after
		// draining for the deregistration delay (30 lab s: 3 s).
		setDesired(l, 2)
		Eventually(func() map[string]string { return targetStates(l) }, 30*time.Second, 100*time.Millisecond).
			Should(HaveKeyWithValue("fleet-1", "draining"))
		Expect(namespaceExists(l, "fleet-1")).To(BeTrue(), "terminated while draining")
		Eventually(func() string { return states(l) }, 60*time.Second, 500*time.Millisecond).
			Should(Equal("fleet-3:InService fleet-4:InService"))
		Expect(namespaceExists(l, "fleet-1")).To(BeFalse())
		evs, err := l.G().Events(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(evs).To(ContainElement(SatisfyAll(HaveField("Kind", api.EventASGState), HaveField("Node", "fleet-1"), HaveField("Reason", api.ASGReasonDrained))))
		Expect(evs).To(ContainElement(SatisfyAll(HaveField("Kind", api.EventASGUnhealthy), HaveField("Node", "fleet-2"))))

		// A new emulator goes on with the same instances, launches none,
		// and their programs keep running.
		r := harness.Run(2*time.Minute, "emulator", "restart", "--name", l.Name)
		Expect(r.Code).To(Equal(0), "%s%s", r.Stdout, r.Stderr)
		Eventually(func() map[string]string { return targetStates(l) }, 60*time.Second, 500*time.Millisecond).
			Should(Equal(map[string]string{"fleet-3": "healthy", "fleet-4": "healthy"}))
		Consistently(func() string { return states(l) }, 3*time.Second, 500*time.Millisecond).
			Should(Equal("fleet-3:InService fleet-4:InService"))
		setDesired(l, 3)
		Eventually(func() string { return states(l) }, 60*time.Second, 500*time.Millisecond).
			Should(Equal("fleet-3:InService fleet-4:InService fleet-5:InService"), "numbers go on after a restart")
	})

	It("keeps draining an instance for the rest of its deregistration delay across an emulator restart", func() {
		// 200 lab s of deregistration delay on a 10x clock: 20 s.
		l := harness.Up(harness.Variant(fleetLab("lab: {time_scale: 10}", "{protocol: TCP, port: 80, interval: 5, healthy_threshold: 2}",
			fleetBase+"\n    min: 1\n    max: 4\n    desired: 2"), "deregistration_delay: 30", "deregistration_delay: 200"))
		Eventually(func() map[string]string { return targetStates(l) }, 90*time.Second, 500*time.Millisecond).
			Should(Equal(map[string]string{"fleet-1": "healthy", "fleet-2": "healthy"}))
		setDesired(l, 1)
		start := time.Now()
		Eventually(func() map[string]string { return targetStates(l) }, 30*time.Second, 100*time.Millisecond).
			Should(HaveKeyWithValue("fleet-1", "draining"))
		r := harness.Run(2*time.Minute, "emulator", "restart", "--name", l.Name)
		Expect(r.Code).To(Equal(0), "%s%s", r.Stdout, r.Stderr)
		// The next emulator goes on draining fleet-1: it stays
		// Terminating, its node up, until the delay is over.
		Eventually(func() map[string]string { return targetStates(l) }, 10*time.Second, 200*time.Millisecond).
			Should(HaveKeyWithValue("fleet-1", "draining"))
		if left := 16*time.Second - time.Since(start); left > 0 {
			Consistently(func() string { return states(l) }, left, 500*time.Millisecond).
				Should(Equal("fleet-1:Terminating fleet-2:InService"), "fleet-1's draining cut short by the restart")
			Expect(namespaceExists(l, "fleet-1")).To(BeTrue())
		}
		Eventually(func() string { return states(l) }, 40*time.Second, 500*time.Millisecond).
			Should(Equal("fleet-2:InService"))
		Expect(time.Since(start)).To(BeNumerically(">=", 18*time.Second), "drained before its delay")
		Expect(namespaceExists(l, "fleet-1")).To(BeFalse())
	})

	It("scales out under load and back in after it stops, on a fast lab clock", func() {
		// 60x: a lab minute (one datapoint) is a second; cooldowns of 60
		// lab seconds are one second too.
		l := harness.Up(fleetLab("lab: {time_scale: 60}", "{protocol: TCP, port: 80, interval: 5, healthy_threshold: 2}",
			fleetBase+"\n    min: 1\n    max: 3\n    desired: 1\n    target_tracking: {metric: NewFlowCountPerTarget, target_value: 5, scale_out_cooldown: 60, scale_in_cooldown: 60}"))
		Eventually(func() string { return states(l) }, 90*time.Second, 500*time.Millisecond).Should(Equal("fleet-1:InService"))
		l.WaitTarget("fleet-1", "healthy")
		// Bounded load: sequential requests for up to 20 s, some tens of
		// new flows a second (a lab minute) on an idle machine and still
		// well above 5 per target on a loaded one.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			deadline := time.Now().Add(20 * time.Second)
			for ctx.Err() == nil && time.Now().Before(deadline) {
				l.Exec("client", "sh", "-c", "for i in $(seq 30); do curl -s -o /dev/null --max-time 2 http://203.0.113.10/; done")
			}
		}()
		Eventually(func() int { return describe(l).Desired }, 30*time.Second, 250*time.Millisecond).Should(BeNumerically(">", 1))
		cancel()
		<-done
		evs, err := l.G().Events(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(evs).To(ContainElement(SatisfyAll(HaveField("Kind", api.EventASGCapacity), HaveField("Reason", api.ASGReasonScaleOut))))
		// No new flows: 15 low datapoints (15 s), then back to min.
		Eventually(func() int { return describe(l).Desired }, 60*time.Second, 500*time.Millisecond).Should(Equal(1))
		Eventually(func() string { return states(l) }, 60*time.Second, 500*time.Millisecond).Should(MatchRegexp(`^fleet-\d+:InService$`))
		evs, err = l.G().Events(context.Background())
		Expect(err).NotTo(HaveOccurred())
		Expect(evs).To(ContainElement(SatisfyAll(HaveField("Kind", api.EventASGCapacity), HaveField("Reason", api.ASGReasonScaleIn))))
	})
})

// keepAlive opens a connection from client to web through the GWLB, reads
// the first answer and waits for the file goFile before it sends a second
// request on the same connection; wait returns how that ended.
func keepAlive(l *harness.Lab) (goFile string, out *strings.Builder, wait func() error) {
	GinkgoHelper()
	goFile = filepath.Join(GinkgoT().TempDir(), "go")
	script := fmt.Sprintf(`exec 3<>/dev/tcp/203.0.113.10/80
printf 'GET / HTTP/1.1\r\nHost: web\r\n\r\n' >&3
while read -r -t 3 line <&3; do case "$line" in local*) break ;; esac; done
[ "${line%%%% *}" = local ] || exit 10
while [ ! -e %s ]; do sleep 0.05; done
printf 'GET /again HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n' >&3
timeout 5 cat <&3 | grep -q '^node web' || exit 20`, goFile)
	cmd := exec.Command(harness.Binary(), "exec", "--name", l.Name, "client", "--", "bash", "-c", script)
	out = &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	Expect(cmd.Start()).To(Succeed())
	return goFile, out, cmd.Wait
}

// firewall is the reference appliance as a stateful firewall: TCP to port
// 80 allowed, the rest denied; a packet of a connection it never saw start
// is dropped (no_connection).
const firewall = "run: {appliance: {mode: firewall, health_port: 80, flow_log: true, default_action: deny, rules: [{action: allow, protocol: tcp, port: 80}]}}"

var _ = Describe("scale in of a stateful firewall fleet", func() {
	DescribeTable("drains or moves the established flows of the instances it terminates as the target group says",
		func(failover string, survives bool) {
			group := strings.Replace(fleetBase, "run: {appliance: {mode: forward}}", firewall, 1) +
				"\n    min: 1\n    max: 4\n    desired: 2"
			file := harness.Variant(fleetLab("lab: {time_scale: 5}", "{protocol: TCP, port: 80, interval: 5, healthy_threshold: 2}", group),
				"deregistration_delay: 30", "deregistration_delay: 60\n      target_failover: {on_deregistration: "+failover+", on_unhealthy: "+failover+"}")
			l := harness.Up(file)
			Eventually(func() map[string]string { return targetStates(l) }, 90*time.Second, 250*time.Millisecond).
				Should(Equal(map[string]string{"fleet-1": "healthy", "fleet-2": "healthy"}))
			goFile, out, wait := keepAlive(l)
			var flow api.Flow
			Eventually(func() []api.Flow {
				fl := l.Flows()
				if len(fl) == 1 {
					flow = fl[0]
				}
				return fl
			}, 20*time.Second, 50*time.Millisecond).Should(HaveLen(1))
			Expect(flow.Target).To(BeElementOf("fleet-1", "fleet-2"))

			setDesired(l, 4)
			Eventually(func() map[string]string { return targetStates(l) }, 60*time.Second, 250*time.Millisecond).
				Should(SatisfyAll(HaveKeyWithValue("fleet-3", "healthy"), HaveKeyWithValue("fleet-4", "healthy")))
			// 4 -> 2: az1 loses fleet-1 (its oldest), then az2 fleet-2.
			setDesired(l, 2)
			Eventually(func() map[string]string { return targetStates(l) }, 30*time.Second, 100*time.Millisecond).
				Should(SatisfyAll(HaveKeyWithValue("fleet-1", "draining"), HaveKeyWithValue("fleet-2", "draining")))
			if survives {
				// While it drains, the instance still runs: the
				// connection goes on where its state is.
				Expect(os.WriteFile(goFile, nil, 0o644)).To(Succeed())
				Expect(wait()).To(Succeed(), "the connection broke while its instance drained: %s", out)
			} else {
				// When the delay ends the instance is terminated and,
				// with rebalance, the flow's next packet moves it to an
				// instance that never saw it start (spec §4.4).
				Eventually(func() string { return states(l) }, 60*time.Second, 250*time.Millisecond).
					Should(Equal("fleet-3:InService fleet-4:InService"))
				Expect(os.WriteFile(goFile, nil, 0o644)).To(Succeed())
				Expect(wait()).NotTo(Succeed(), "the connection survived a move to an appliance that never saw it start: %s", out)
				var moved api.Flow
				for _, f := range l.Flows() {
					if f.Src == flow.Src {
						moved = f
					}
				}
				Expect(moved.Target).To(BeElementOf("fleet-3", "fleet-4"), "flow %+v", moved)
				Expect(moved.Cookie).To(Equal(flow.Cookie), "a moved flow keeps its cookie")
				var reasons []string
				for _, r := range l.FlowLog(moved.Target) {
					reasons = append(reasons, r.Reason)
				}
				Expect(reasons).To(ContainElement(appliance.ReasonNoConnection))
			}
			// Nothing is left of the terminated instances.
			Eventually(func() string { return states(l) }, 60*time.Second, 500*time.Millisecond).
				Should(Equal("fleet-3:InService fleet-4:InService"))
			for _, n := range []string{"fleet-1", "fleet-2"} {
				Expect(namespaceExists(l, n)).To(BeFalse(), "%s's namespace is left", n)
				Expect(l.Status().Nodes).NotTo(ContainElement(HaveField("Name", n)))
			}
		},
		Entry("no_rebalance: the connection finishes on its draining instance", "no_rebalance", true),
		Entry("rebalance: the flow moves and the new firewall drops it", "rebalance", false),
	)
})
