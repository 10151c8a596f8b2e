package asg

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fakeWorld is the actuator and the balancer: nodes by name, targets by
// GWLB, draining for delay after a deregistration.
type fakeWorld struct {
	clock      *fakeClock
	delay      time.Duration
	nodes      map[string]string // instance -> subnet
	dead       map[string]bool
	failLaunch bool
	failTerm   bool
	launches   []string
	terminates []string
	targets    map[string]map[string]string // gwlb -> instance -> state
	drainEnd   map[string]time.Time         // gwlb/instance
	active     int
	newFlows   uint64
	n          int
}

func newWorld(c *fakeClock, delay time.Duration) *fakeWorld {
	return &fakeWorld{clock: c, delay: delay, nodes: map[string]string{}, dead: map[string]bool{},
		targets: map[string]map[string]string{}, drainEnd: map[string]time.Time{}}
}

func (w *fakeWorld) Launch(group, inst, subnet string) (netip.Addr, error) {
	if w.failLaunch {
		return netip.Addr{}, errors.New("no namespace for you")
	}
	if _, dup := w.nodes[inst]; dup {
		return netip.Addr{}, fmt.Errorf("node %s exists", inst)
	}
	w.nodes[inst] = subnet
	w.launches = append(w.launches, inst)
	w.n++
	return netip.AddrFrom4([4]byte{10, 0, 1, byte(10 + w.n)}), nil
}

func (w *fakeWorld) Terminate(group, inst string) error {
	if w.failTerm {
		return errors.New("busy")
	}
	if _, ok := w.nodes[inst]; !ok {
		return fmt.Errorf("no node %s", inst)
	}
	for g := range w.targets {
		if st := w.TargetState(g, inst); st != "" {
			return fmt.Errorf("node %s is still a target of %s (%s)", inst, g, st)
		}
	}
	delete(w.nodes, inst)
	w.terminates = append(w.terminates, inst)
	return nil
}

func (w *fakeWorld) Alive(inst string) bool { _, ok := w.nodes[inst]; return ok && !w.dead[inst] }

func (w *fakeWorld) Register(g, inst string) error {
	if _, ok := w.nodes[inst]; !ok {
		return fmt.Errorf("no node %s", inst)
	}
	if w.targets[g] == nil {
		w.targets[g] = map[string]string{}
	}
	w.targets[g][inst] = "initial"
	return nil
}

func (w *fakeWorld) Deregister(g, inst string) error {
	if w.targets[g][inst] == "" {
		return fmt.Errorf("%s is not a target of %s", inst, g)
	}
	w.targets[g][inst] = "draining"
	w.drainEnd[g+"/"+inst] = w.clock.Now().Add(w.delay)
	return nil
}

func (w *fakeWorld) TargetState(g, inst string) string {
	st := w.targets[g][inst]
	if st == "draining" && !w.clock.Now().Before(w.drainEnd[g+"/"+inst]) {
		delete(w.targets[g], inst)
		return ""
	}
	return st
}

func (w *fakeWorld) Metrics(string) (int, uint64) { return w.active, w.newFlows }

func (w *fakeWorld) setAll(g, st string) {
	for i, s := range w.targets[g] {
		if s != "draining" {
			w.targets[g][i] = st
		}
	}
}

type rig struct {
	t      *testing.T
	clock  *fakeClock
	world  *fakeWorld
	ctl    *Controller
	events []api.Event
}

func baseGroup() config.AutoScalingGroup {
	return config.AutoScalingGroup{
		Name: "fw", VPC: "sec",
		Subnets: []config.ASGSubnet{{Name: "a", AZ: "az1"}, {Name: "b", AZ: "az2"}},
		Min:     1, Max: 6, Desired: 2,
		HealthCheckGracePeriod: 60, HealthCheckType: "ELB",
		TargetGroups: []config.ASGTargetGroup{{Name: "fw-tg", GWLB: "gw"}},
	}
}

func newRig(t *testing.T, g config.AutoScalingGroup, delay time.Duration) *rig {
	r := &rig{t: t, clock: &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	r.world = newWorld(r.clock, delay)
	r.ctl = New([]config.AutoScalingGroup{g}, r.clock, r.world, r.world, func(e api.Event) { r.events = append(r.events, e) })
	return r
}

// step advances the clock by d, then runs one round.
func (r *rig) step(d time.Duration) {
	r.clock.advance(d)
	r.ctl.Step()
}

// states returns "name:state" of every live instance, by number.
func (r *rig) states() string {
	var out []string
	for _, i := range r.ctl.Describe()[0].Instances {
		out = append(out, i.Name+":"+i.State)
	}
	return strings.Join(out, " ")
}

func (r *rig) want(states string) {
	r.t.Helper()
	if got := r.states(); got != states {
		r.t.Fatalf("instances %q, want %q", got, states)
	}
}

func (r *rig) group() api.ASG { return r.ctl.Describe()[0] }

func (r *rig) hasEvent(kind, node, reason string) bool {
	return slices.ContainsFunc(r.events, func(e api.Event) bool {
		return e.Kind == kind && (node == "" || e.Node == node) && (reason == "" || e.Reason == reason)
	})
}

// TestLaunchRegisterInService: instances launch across AZs, are registered
// only once InService, and start initial there (spec §13.1, §13.3).
func TestLaunchRegisterInService(t *testing.T) {
	r := newRig(t, baseGroup(), 0)
	r.step(0)
	r.want("fw-1:Pending:Proceed fw-2:Pending:Proceed")
	if len(r.world.targets["gw"]) != 0 {
		t.Fatalf("targets registered before InService: %v", r.world.targets)
	}
	r.step(time.Second)
	r.want("fw-1:InService fw-2:InService")
	g := r.group()
	if g.Instances[0].AZ != "az1" || g.Instances[1].AZ != "az2" {
		t.Fatalf("AZs %s, %s: want one instance per AZ", g.Instances[0].AZ, g.Instances[1].AZ)
	}
	if g.Instances[0].Targets["fw-tg"] != "initial" || g.Instances[0].IP == "" {
		t.Fatalf("fw-1 %+v: want registered initial with an address", g.Instances[0])
	}
	if !r.hasEvent(api.EventASGLaunch, "fw-1", api.ASGReasonCapacity) || !r.hasEvent(api.EventASGState, "fw-2", api.ASGReasonRegistered) {
		t.Fatalf("events %+v", r.events)
	}
}

// TestAZBalancing: launches go to the AZ with the fewest instances, scale
// in takes the oldest of the AZ with the most, the first listed on a tie.
func TestAZBalancing(t *testing.T) {
	r := newRig(t, baseGroup(), 0)
	if err := r.ctl.SetDesired("fw", 5); err != nil {
		t.Fatal(err)
	}
	r.step(0)
	r.step(time.Second)
	var azs []string
	for _, i := range r.group().Instances {
		azs = append(azs, i.AZ)
	}
	if got := strings.Join(azs, ","); got != "az1,az2,az1,az2,az1" {
		t.Fatalf("AZs %s, want az1,az2,az1,az2,az1", got)
	}
	if err := r.ctl.SetDesired("fw", 2); err != nil {
		t.Fatal(err)
	}
	r.step(time.Second) // 3 leave: fw-1 (az1 3:2), fw-2 (tie, az1 first? no: az1 2:2 -> az1) ...
	var leaving []string
	for _, i := range r.group().Instances {
		if !active(&instance{state: i.State}) {
			leaving = append(leaving, i.Name)
		}
	}
	// az1 has fw-1, fw-3, fw-5; az2 fw-2, fw-4. 3:2 -> fw-1; 2:2 tie -> az1: fw-3;
	// 1:2 -> az2: fw-2.
	if got := strings.Join(leaving, ","); got != "fw-1,fw-2,fw-3" {
		t.Fatalf("terminating %s, want fw-1,fw-2,fw-3", got)
	}
	r.step(time.Second)
	r.step(time.Second)
	r.want("fw-4:InService fw-5:InService")
	if err := r.ctl.SetDesired("fw", 3); err != nil {
		t.Fatal(err)
	}
	r.step(time.Second)
	if g := r.group(); g.Instances[2].Name != "fw-6" {
		t.Fatalf("new instance %s: numbers are never reused, want fw-6", g.Instances[2].Name)
	}
}

// TestScaleInWaitsForDraining: a scaled-in instance is deregistered first
// and terminated only when its deregistration delay has passed.
func TestScaleInWaitsForDraining(t *testing.T) {
	r := newRig(t, baseGroup(), 300*time.Second)
	r.step(0)
	r.step(time.Second)
	r.world.setAll("gw", "healthy")
	if err := r.ctl.SetDesired("fw", 1); err != nil {
		t.Fatal(err)
	}
	r.step(time.Second)
	r.want("fw-1:Terminating fw-2:InService")
	if r.world.targets["gw"]["fw-1"] != "draining" {
		t.Fatalf("fw-1 target %q, want draining", r.world.targets["gw"]["fw-1"])
	}
	r.step(299 * time.Second)
	r.want("fw-1:Terminating fw-2:InService")
	if len(r.world.terminates) != 0 {
		t.Fatalf("terminated %v during the deregistration delay", r.world.terminates)
	}
	r.step(time.Second) // the delay is over: drained, Terminating:Proceed, terminated
	r.want("fw-2:InService")
	if !slices.Equal(r.world.terminates, []string{"fw-1"}) || !r.hasEvent(api.EventASGState, "fw-1", api.ASGReasonDrained) {
		t.Fatalf("terminated %v, events %+v", r.world.terminates, r.events)
	}
	if g := r.group(); len(g.Terminated) != 1 || g.Terminated[0].Name != "fw-1" || g.Terminated[0].State != api.LifecycleTerminated {
		t.Fatalf("terminated list %+v", g.Terminated)
	}
}

// TestLaunchHook: Pending:Wait until complete-lifecycle-action; on timeout
// the default result (ABANDON: terminated, and another launched).
func TestLaunchHook(t *testing.T) {
	g := baseGroup()
	g.Desired = 1
	g.LifecycleHooks = []config.LifecycleHook{{Name: "warm", Transition: "launching", HeartbeatTimeout: 60, DefaultResult: "ABANDON"}}
	r := newRig(t, g, 0)
	r.step(0)
	r.want("fw-1:Pending:Wait")
	if err := r.ctl.CompleteLifecycleAction("fw", "fw-1", "nope", "CONTINUE"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "warm") {
		t.Fatalf("unknown hook: %v", err)
	}
	if err := r.ctl.CompleteLifecycleAction("fw", "fw-1", "warm", "MAYBE"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad result: %v", err)
	}
	r.step(59 * time.Second)
	r.want("fw-1:Pending:Wait")
	if len(r.world.targets["gw"]) != 0 {
		t.Fatal("registered while waiting on a launching hook")
	}
	r.step(time.Second) // timeout: ABANDON -> terminated, fw-2 launched
	r.step(time.Second)
	r.want("fw-2:Pending:Wait")
	if !r.hasEvent(api.EventASGState, "fw-1", api.ASGReasonHookTimeout) || !slices.Equal(r.world.terminates, []string{"fw-1"}) {
		t.Fatalf("terminates %v events %+v", r.world.terminates, r.events)
	}
	if err := r.ctl.CompleteLifecycleAction("fw", "fw-2", "warm", "CONTINUE"); err != nil {
		t.Fatal(err)
	}
	r.step(time.Second)
	r.want("fw-2:InService")
}

// TestTerminateHook: after draining the instance waits in
// Terminating:Wait; CONTINUE (or the timeout) terminates it.
func TestTerminateHook(t *testing.T) {
	g := baseGroup()
	g.LifecycleHooks = []config.LifecycleHook{{Name: "drain", Transition: "terminating", HeartbeatTimeout: 30, DefaultResult: "CONTINUE"}}
	r := newRig(t, g, 10*time.Second)
	r.step(0)
	r.step(time.Second)
	if err := r.ctl.SetDesired("fw", 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("desired below min: %v", err)
	}
	if err := r.ctl.SetDesired("fw", 1); err != nil {
		t.Fatal(err)
	}
	r.step(time.Second)
	r.step(10 * time.Second)
	r.want("fw-1:Terminating:Wait fw-2:InService")
	if err := r.ctl.CompleteLifecycleAction("fw", "fw-1", "drain", "CONTINUE"); err != nil {
		t.Fatal(err)
	}
	r.step(time.Second)
	r.want("fw-2:InService")
	// The timeout path.
	if err := r.ctl.SetDesired("fw", 2); err != nil {
		t.Fatal(err)
	}
	r.step(time.Second)
	r.step(time.Second)
	if err := r.ctl.SetDesired("fw", 1); err != nil {
		t.Fatal(err)
	}
	r.step(time.Second)
	r.step(10 * time.Second)
	// fw-3 went to az1, which had none; on the tie az1 (listed first) loses it.
	r.want("fw-2:InService fw-3:Terminating:Wait")
	r.step(29 * time.Second)
	r.want("fw-2:InService fw-3:Terminating:Wait")
	r.step(time.Second)
	r.want("fw-2:InService")
}

// TestReplacement: an unhealthy instance is left alone during the grace
// period, then terminated and replaced (EC2 and ELB checks).
func TestReplacement(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(w *fakeWorld)
		reason  string
	}{
		{"ec2", func(w *fakeWorld) { w.dead["fw-1"] = true }, api.ASGReasonUnhealthyEC2},
		{"elb", func(w *fakeWorld) { w.targets["gw"]["fw-1"] = "unhealthy" }, api.ASGReasonUnhealthyELB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, baseGroup(), 0)
			r.step(0)
			r.step(time.Second) // InService at t=1s
			tc.breakIt(r.world)
			r.step(58 * time.Second) // 58 s in service: grace
			r.want("fw-1:InService fw-2:InService")
			r.step(time.Second) // 59 s
			r.want("fw-1:InService fw-2:InService")
			r.step(time.Second) // 60 s: replaced
			if !r.hasEvent(api.EventASGUnhealthy, "fw-1", tc.reason) {
				t.Fatalf("events %+v", r.events)
			}
			r.step(time.Second)
			r.step(time.Second)
			r.want("fw-2:InService fw-3:InService")
			if !r.hasEvent(api.EventASGLaunch, "fw-3", api.ASGReasonReplacement) {
				t.Fatalf("fw-3 not launched as a replacement: %+v", r.events)
			}
			if g := r.group(); g.Instances[1].AZ != "az1" || g.Terminated[0].Health != "Unhealthy" {
				t.Fatalf("replacement in %s (want az1, the AZ short of one); terminated %+v", g.Instances[1].AZ, g.Terminated)
			}
		})
	}
}

// TestEC2IgnoresTargetHealth: with health check type EC2 an unhealthy
// target is not replaced.
func TestEC2IgnoresTargetHealth(t *testing.T) {
	g := baseGroup()
	g.HealthCheckType = "EC2"
	r := newRig(t, g, 0)
	r.step(0)
	r.step(time.Second)
	r.world.setAll("gw", "unhealthy")
	r.step(10 * time.Minute)
	r.want("fw-1:InService fw-2:InService")
}

// TestLaunchFailure: a failed launch is reported and retried after a pause.
func TestLaunchFailure(t *testing.T) {
	g := baseGroup()
	g.Desired = 1
	r := newRig(t, g, 0)
	r.world.failLaunch = true
	r.step(0)
	r.want("")
	if !r.hasEvent(api.EventASGState, "fw-1", api.ASGReasonLaunchFailed) {
		t.Fatalf("events %+v", r.events)
	}
	r.world.failLaunch = false
	r.step(5 * time.Second)
	r.want("")
	r.step(5 * time.Second)
	r.want("fw-2:Pending:Proceed")
}

// TestTargetTracking: the high alarm fires after 3 datapoints above the
// target, the low one after 15 below 90% of it; cooldowns and min/max hold.
func TestTargetTracking(t *testing.T) {
	g := baseGroup()
	g.Max = 4
	g.TargetTracking = &config.TargetTracking{Metric: config.MetricActiveFlowCountPerTarget, TargetValue: 100, ScaleOutCooldown: 300, ScaleInCooldown: 300}
	r := newRig(t, g, 0)
	r.step(0)
	r.step(time.Second)
	r.world.active = 300     // 150 per target
	r.step(59 * time.Second) // datapoint 1 (t = 60 s)
	r.step(time.Minute)      // 2
	if r.group().Desired != 2 {
		t.Fatalf("scaled after 2 datapoints: desired %d", r.group().Desired)
	}
	r.step(time.Minute) // 3: scale out to ceil(300/100) = 3
	if d := r.group().Desired; d != 3 || !r.hasEvent(api.EventASGCapacity, "", api.ASGReasonScaleOut) {
		t.Fatalf("desired %d after 3 high datapoints, want 3", d)
	}
	r.world.active = 1000 // far above: ceil(1000/100) = 10, clamped to max 4
	for range 3 {
		r.step(time.Minute)
	}
	if d := r.group().Desired; d != 3 {
		t.Fatalf("desired %d within the scale-out cooldown, want 3", d)
	}
	r.step(2 * time.Minute) // 5 min since the scale out, 5 high datapoints
	if d := r.group().Desired; d != 4 {
		t.Fatalf("desired %d after the cooldown, want max 4", d)
	}
	r.world.active = 0
	for range 14 {
		r.step(time.Minute)
	}
	if d := r.group().Desired; d != 4 {
		t.Fatalf("desired %d after 14 low datapoints, want 4", d)
	}
	r.step(time.Minute)
	if d := r.group().Desired; d != 1 || !r.hasEvent(api.EventASGCapacity, "", api.ASGReasonScaleIn) {
		t.Fatalf("desired %d after 15 low datapoints, want min 1", d)
	}
	p := r.group().Policy
	if p == nil || p.LastScaleIn.IsZero() || p.LowPoints != 0 {
		t.Fatalf("policy %+v", p)
	}
}

// TestTargetTrackingDisableScaleIn and NewFlowCount: new flows per lab
// minute per target, only scale out.
func TestTargetTrackingNewFlows(t *testing.T) {
	g := baseGroup()
	g.TargetTracking = &config.TargetTracking{Metric: config.MetricNewFlowCountPerTarget, TargetValue: 50, DisableScaleIn: true}
	r := newRig(t, g, 0)
	r.step(0)
	r.step(time.Second)
	r.step(59 * time.Second) // baseline
	for range 3 {
		r.world.newFlows += 200 // 100 per target per minute
		r.step(time.Minute)
	}
	if d := r.group().Desired; d != 4 {
		t.Fatalf("desired %d, want ceil(200/50) = 4", d)
	}
	for range 30 {
		r.step(time.Minute) // no new flows
	}
	if d := r.group().Desired; d != 4 {
		t.Fatalf("desired %d with scale in disabled, want 4", d)
	}
}

func TestUnknownGroup(t *testing.T) {
	r := newRig(t, baseGroup(), 0)
	if err := r.ctl.SetDesired("nope", 1); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "fw") {
		t.Fatalf("%v", err)
	}
}

// TestSaveRestore: a new controller given the saved state goes on with the
// same instances, numbers and capacity, and launches nothing new.
func TestSaveRestore(t *testing.T) {
	r := newRig(t, baseGroup(), 0)
	if err := r.ctl.SetDesired("fw", 3); err != nil {
		t.Fatal(err)
	}
	r.step(0)
	r.step(time.Second)
	saves := 0
	r.ctl.OnChange(func() { saves++ })
	if err := r.ctl.SetDesired("fw", 2); err != nil {
		t.Fatal(err)
	}
	if saves != 1 {
		t.Fatalf("%d saves after set-desired, want 1", saves)
	}
	saved := r.ctl.Save()
	r2 := newRig(t, baseGroup(), 0)
	r2.world = r.world
	r2.ctl = New([]config.AutoScalingGroup{baseGroup()}, r.clock, r.world, r.world, nil)
	r2.ctl.Restore(saved)
	r2.want("fw-1:InService fw-2:InService fw-3:InService")
	r2.step(time.Second) // desired 2 was kept: fw-1 goes
	r2.step(time.Second)
	r2.want("fw-2:InService fw-3:InService")
	if err := r2.ctl.SetDesired("fw", 3); err != nil {
		t.Fatal(err)
	}
	r2.step(time.Second)
	if g := r2.group(); g.Instances[2].Name != "fw-4" {
		t.Fatalf("instances %+v: want fw-4 next", g.Instances)
	}
}

// TestTerminateRetried: a failed termination is retried every round and
// reported once.
func TestTerminateRetried(t *testing.T) {
	r := newRig(t, baseGroup(), 0)
	r.step(0)
	r.step(time.Second)
	r.world.failTerm = true
	if err := r.ctl.SetDesired("fw", 1); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		r.step(time.Second)
	}
	r.want("fw-1:Terminating:Proceed fw-2:InService")
	n := 0
	for _, e := range r.events {
		if strings.Contains(e.Detail, "termination failed") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d failure events, want 1", n)
	}
	r.world.failTerm = false
	r.step(time.Second)
	r.want("fw-2:InService")
}

// TestRestoreKeepsWaits: an emulator restart mid-wait goes on with the
// rest of each wait, the time the emulator was down included: the grace
// period, a hook's heartbeat timeout and the draining of a terminating
// instance (the balancer keeps the draining; the group waits for it).
func TestRestoreKeepsWaits(t *testing.T) {
	g := baseGroup()
	g.Desired = 3
	g.Subnets = g.Subnets[:1]
	g.HealthCheckType = "EC2"
	g.HealthCheckGracePeriod = 60
	g.LifecycleHooks = []config.LifecycleHook{{Name: "bye", Transition: config.TransitionTerminating,
		DefaultResult: config.ResultContinue, HeartbeatTimeout: 600}}
	r := newRig(t, g, 300*time.Second)
	wall := time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC)
	r.ctl.wall = func() time.Time { return wall }
	tick := func(d time.Duration) { wall = wall.Add(d); r.step(d) }
	tick(0)
	tick(time.Second)
	r.want("fw-1:InService fw-2:InService fw-3:InService")
	if err := r.ctl.SetDesired("fw", 2); err != nil { // fw-1 drains for 300 s
		t.Fatal(err)
	}
	tick(time.Second)
	tick(time.Second)
	r.want("fw-1:Terminating fw-2:InService fw-3:InService")
	tick(299 * time.Second) // drained: its hook waits 600 s
	r.want("fw-1:Terminating:Wait fw-2:InService fw-3:InService")
	if err := r.ctl.SetDesired("fw", 1); err != nil { // fw-2 drains
		t.Fatal(err)
	}
	tick(time.Second)
	tick(100 * time.Second)
	r.want("fw-1:Terminating:Wait fw-2:Terminating fw-3:InService")
	saved := r.ctl.Save()

	// The next emulator starts 20 s later with a lab clock of its own.
	wall = wall.Add(20 * time.Second)
	clock2 := &fakeClock{now: time.Date(2031, 3, 3, 0, 0, 0, 0, time.UTC)}
	r.world.clock = clock2
	for k, end := range r.world.drainEnd { // the balancer keeps its draining
		r.world.drainEnd[k] = clock2.now.Add(end.Sub(r.clock.Now()) - 20*time.Second)
	}
	r.clock = clock2
	r.ctl = New([]config.AutoScalingGroup{g}, clock2, r.world, r.world, func(e api.Event) { r.events = append(r.events, e) })
	r.ctl.wall = func() time.Time { return wall }
	r.ctl.Restore(saved)
	r.want("fw-1:Terminating:Wait fw-2:Terminating fw-3:InService")
	hooks := r.group().Instances[0].WaitingHooks
	// fw-1's hook started 121 lab s (101 + 20 down) before the restart.
	if len(hooks) != 1 || hooks[0].Deadline.Sub(clock2.Now()) != 479*time.Second {
		t.Fatalf("fw-1 waits %+v, want bye with 479 s left", hooks)
	}
	// fw-3 has been InService far beyond its grace period: its death is
	// acted upon at once, not after a new grace period.
	r.world.dead["fw-3"] = true
	tick(time.Second)
	if !r.hasEvent(api.EventASGUnhealthy, "fw-3", api.ASGReasonUnhealthyEC2) {
		t.Fatalf("fw-3 dead after the restart but not replaced; events %+v", r.events)
	}
	// fw-2 drains for the rest of its 300 s: 179 s after the restart.
	tick(177 * time.Second)
	if st := r.group().Instances[1]; st.Name != "fw-2" || st.State != api.LifecycleTerminating {
		t.Fatalf("fw-2 %+v: want still Terminating (draining)", st)
	}
	tick(2 * time.Second)
	if st := r.group().Instances[1]; st.Name != "fw-2" || st.State != api.LifecycleTerminatingWait {
		t.Fatalf("fw-2 %+v: want Terminating:Wait once drained", st)
	}
	// fw-1's hook times out 479 s after the restart.
	tick(479*time.Second - 181*time.Second)
	if slices.Contains(r.world.terminates, "fw-1") {
		t.Fatal("fw-1 terminated before its hook's deadline")
	}
	tick(time.Second)
	tick(time.Second)
	if !slices.Contains(r.world.terminates, "fw-1") {
		t.Fatalf("fw-1 not terminated after its hook's deadline: %s", r.states())
	}
}

// TestRestoreGracePeriod: an instance restored within its grace period
// keeps only the rest of it.
func TestRestoreGracePeriod(t *testing.T) {
	g := baseGroup()
	g.HealthCheckType = "EC2"
	g.HealthCheckGracePeriod = 60
	r := newRig(t, g, 0)
	wall := time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC)
	r.ctl.wall = func() time.Time { return wall }
	r.step(0)
	r.step(time.Second)
	r.want("fw-1:InService fw-2:InService")
	r.clock.advance(30 * time.Second)
	wall = wall.Add(30 * time.Second)
	saved := r.ctl.Save()
	wall = wall.Add(10 * time.Second) // down 10 s
	clock2 := &fakeClock{now: time.Date(2031, 3, 3, 0, 0, 0, 0, time.UTC)}
	r.clock = clock2
	r.ctl = New([]config.AutoScalingGroup{g}, clock2, r.world, r.world, func(e api.Event) { r.events = append(r.events, e) })
	r.ctl.wall = func() time.Time { return wall }
	r.ctl.Restore(saved)
	r.world.dead["fw-1"] = true
	r.step(19 * time.Second) // 59 s of its 60
	if r.hasEvent(api.EventASGUnhealthy, "fw-1", "") {
		t.Fatal("fw-1 judged within its grace period")
	}
	r.step(time.Second)
	if !r.hasEvent(api.EventASGUnhealthy, "fw-1", api.ASGReasonUnhealthyEC2) {
		t.Fatalf("fw-1 not judged after its grace period; states %s", r.states())
	}
}

// hangWorld is a fakeWorld whose launch of one instance hangs until
// released, then makes its node late.
type hangWorld struct {
	*fakeWorld
	hang    string
	release chan struct{}
	mu      sync.Mutex
	late    map[string]bool // nodes made after their launch timed out
	removed []string
}

func (h *hangWorld) Launch(group, inst, subnet string) (netip.Addr, error) {
	if inst != h.hang {
		return h.fakeWorld.Launch(group, inst, subnet)
	}
	<-h.release
	h.mu.Lock()
	h.late[inst] = true
	h.mu.Unlock()
	return netip.MustParseAddr("10.0.1.99"), nil
}

func (h *hangWorld) Terminate(group, inst string) error {
	h.mu.Lock()
	late := h.late[inst]
	if late {
		delete(h.late, inst)
		h.removed = append(h.removed, inst)
	}
	h.mu.Unlock()
	if late {
		return nil
	}
	return h.fakeWorld.Terminate(group, inst)
}

// TestLaunchTimeout: a launch that hangs does not hold the group: after
// the launch timeout it is a failed launch (an event says so), another
// instance is launched, and the node the hung launch makes at last is
// removed (spec §13.4).
func TestLaunchTimeout(t *testing.T) {
	g := baseGroup()
	g.Desired = 1
	g.Subnets = g.Subnets[:1]
	r := newRig(t, g, 0)
	wall := time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC)
	r.ctl.wall = func() time.Time { return wall }
	r.ctl.launchWait = 10 * time.Millisecond
	hw := &hangWorld{fakeWorld: r.world, hang: "fw-1", release: make(chan struct{}), late: map[string]bool{}}
	defer func() {
		select {
		case <-hw.release:
		default:
			close(hw.release)
		}
	}()
	r.ctl.act = hw
	r.step(0)
	r.want("fw-1:Pending")
	wall = wall.Add(LaunchTimeout - time.Second)
	r.step(time.Second)
	if r.hasEvent(api.EventASGState, "fw-1", api.ASGReasonLaunchTimeout) {
		t.Fatal("launch judged failed before the launch timeout")
	}
	wall = wall.Add(time.Second)
	r.step(time.Second)
	if !r.hasEvent(api.EventASGState, "fw-1", api.ASGReasonLaunchTimeout) {
		t.Fatalf("no launch timeout event; events %+v", r.events)
	}
	r.want("fw-1:Terminating:Proceed")
	r.step(10 * time.Second) // after the retry pause, another
	r.want("fw-1:Terminating:Proceed fw-2:Pending:Proceed")
	close(hw.release)
	deadline := time.Now().Add(5 * time.Second)
	for r.group().Instances[0].IP == "" { // the hung launch ends
		if time.Now().After(deadline) {
			t.Fatal("the released launch was not recorded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.step(time.Second)
	r.want("fw-2:InService")
	hw.mu.Lock()
	defer hw.mu.Unlock()
	if !slices.Equal(hw.removed, []string{"fw-1"}) {
		t.Fatalf("removed %v, want the late node of fw-1", hw.removed)
	}
}

// TestPendingUnhealthy: an instance whose node or program is gone while it
// is Pending is a failed launch at once, not after its hooks or a grace
// period: it is terminated and another launched (spec §13.4).
func TestPendingUnhealthy(t *testing.T) {
	g := baseGroup()
	g.Desired = 1
	g.Subnets = g.Subnets[:1]
	g.LifecycleHooks = []config.LifecycleHook{{Name: "warm", Transition: config.TransitionLaunching, HeartbeatTimeout: 300, DefaultResult: config.ResultContinue}}
	r := newRig(t, g, 0)
	r.step(0)
	r.want("fw-1:Pending:Wait")
	r.step(time.Second)
	r.want("fw-1:Pending:Wait")
	r.world.dead["fw-1"] = true
	r.step(time.Second)
	if !r.hasEvent(api.EventASGState, "fw-1", api.ASGReasonPendingUnhealthy) {
		t.Fatalf("no event for fw-1 dead while Pending; events %+v", r.events)
	}
	r.want("")
	if !slices.Contains(r.world.terminates, "fw-1") {
		t.Fatalf("fw-1's node not removed: %v", r.world.terminates)
	}
	r.step(10 * time.Second)
	r.want("fw-2:Pending:Wait")
}
