package asg

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/clock"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
)

// Actuator makes and removes the nodes of instances. Launch returns the
// instance's address once its node is wired and its program started.
type Actuator interface {
	Launch(group, instance, subnet string) (netip.Addr, error)
	Terminate(group, instance string) error
	// Alive reports whether the instance's node and program run (the EC2
	// status check of spec §13.4).
	Alive(instance string) bool
}

// Balancer is what the controller needs of the GWLBs.
type Balancer interface {
	Register(gwlb, instance string) error
	Deregister(gwlb, instance string) error
	// TargetState is the instance's state in the GWLB's target group
	// (initial, healthy, unhealthy, draining, unused); "" when it is not
	// a target there.
	TargetState(gwlb, instance string) string
	// Metrics are the GWLB's ActiveFlowCount and its new flows since the
	// emulator started, all nodes together.
	Metrics(gwlb string) (active int, newFlows uint64)
}

// How the target tracking alarms are shaped (spec §13.5).
const (
	Datapoint      = time.Minute
	HighPoints     = 3
	LowPoints      = 15
	LowFraction    = 0.9
	keepTerminated = 20
	// launchRetry is how long a group waits after a failed launch.
	launchRetry = 10 * time.Second
	// LaunchTimeout is how long (wall time: making a node is real work,
	// however fast the lab clock) a launch may take before the group
	// judges it failed and launches another (spec §13.4).
	LaunchTimeout = 2 * time.Minute
	// launchWait is how long a round waits for its launches before it
	// lets them end on their own.
	launchWait = time.Second
)

// ErrNotFound and ErrInvalid classify the errors of the control verbs.
var (
	ErrNotFound = errors.New("not found")
	ErrInvalid  = errors.New("invalid")
)

// Controller runs every group of a lab.
type Controller struct {
	stepMu sync.Mutex // one Step at a time
	mu     sync.Mutex // the groups' state
	clock  clock.Clock
	act    Actuator
	lb     Balancer
	emit   func(api.Event)
	groups []*group
	// changed is set by every event; onChange is called after a round
	// or verb that set it.
	changed  bool
	onChange func()
	// wall is the wall clock and scale the lab clock's speed-up: saved
	// deadlines are wall times, so a restarted emulator (whose lab clock
	// starts afresh) keeps them.
	wall  func() time.Time
	scale float64
	// launchTimeout and launchWait are LaunchTimeout and launchWait,
	// shorter in tests.
	launchTimeout, launchWait time.Duration
}

type group struct {
	cfg        config.AutoScalingGroup
	desired    int
	next       int // number of the next instance
	instances  []*instance
	terminated []*instance
	retryAt    time.Time
	replace    int // launches owed to unhealthy instances
	policy     *policy
}

type instance struct {
	name, subnet, az string
	n                int
	ip               netip.Addr
	state            string
	reason           string
	launched         time.Time
	inService        time.Time
	hooks            map[string]time.Time // waiting hooks -> deadline
	abandon          bool                 // a launching hook abandoned it
	launching        bool                 // the actuator is making its node
	launchStart      time.Time            // when it started to (wall clock)
	nodeUp           bool                 // its node exists
	registered       bool                 // in its target groups
	deregistered     bool                 // deregistered from them: draining
	terminatedAt     time.Time
	lastFailure      string // the last failed call reported
}

type policy struct {
	cfg                   config.TargetTracking
	nextSample            time.Time
	value                 float64
	high, low             int
	lastNew               uint64
	haveNew               bool
	lastOut, lastIn, last time.Time // last scale out, scale in, any activity
}

// New makes a controller for the groups; emit receives its events (it may
// be nil).
func New(groups []config.AutoScalingGroup, c clock.Clock, act Actuator, lb Balancer, emit func(api.Event)) *Controller {
	if emit == nil {
		emit = func(api.Event) {}
	}
	ctl := &Controller{clock: c, act: act, lb: lb, wall: time.Now, scale: 1, launchTimeout: LaunchTimeout, launchWait: launchWait}
	if sc, ok := c.(interface{ Scale() float64 }); ok && sc.Scale() > 0 {
		ctl.scale = sc.Scale()
	}
	ctl.emit = func(e api.Event) {
		ctl.changed = true // always under mu
		emit(e)
	}
	now := c.Now()
	for _, g := range groups {
		gr := &group{cfg: g, desired: g.Desired, next: 1}
		if g.TargetTracking != nil {
			gr.policy = &policy{cfg: *g.TargetTracking, nextSample: now.Add(Datapoint)}
		}
		ctl.groups = append(ctl.groups, gr)
	}
	return ctl
}

func (c *Controller) group(name string) (*group, error) {
	var names []string
	for _, g := range c.groups {
		if g.cfg.Name == name {
			return g, nil
		}
		names = append(names, g.cfg.Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: the lab has no auto scaling group (autoscaling_groups in the topology file)", ErrNotFound)
	}
	return nil, fmt.Errorf("%w: no auto scaling group %q; the lab's groups: %s", ErrNotFound, name, strings.Join(names, ", "))
}

// SetDesired sets a group's desired capacity (SetDesiredCapacity); it must
// be within min and max. The next Step launches or terminates.
func (c *Controller) SetDesired(name string, n int) error {
	defer c.notify()
	c.mu.Lock()
	defer c.mu.Unlock()
	g, err := c.group(name)
	if err != nil {
		return err
	}
	if n < g.cfg.Min || n > g.cfg.Max {
		return fmt.Errorf("%w: desired capacity %d is outside the group's min-max (%d-%d)", ErrInvalid, n, g.cfg.Min, g.cfg.Max)
	}
	c.setDesired(g, n, api.ASGReasonDesired)
	return nil
}

func (c *Controller) setDesired(g *group, n int, reason string) {
	if n == g.desired {
		return
	}
	c.emit(api.Event{Kind: api.EventASGCapacity, ASG: g.cfg.Name, Reason: reason, Detail: fmt.Sprintf("desired %d -> %d", g.desired, n)})
	g.desired = n
}

// CompleteLifecycleAction ends an instance's wait on a hook with result
// CONTINUE or ABANDON (spec §13.2).
func (c *Controller) CompleteLifecycleAction(name, inst, hook, result string) error {
	defer c.notify()
	c.mu.Lock()
	defer c.mu.Unlock()
	g, err := c.group(name)
	if err != nil {
		return err
	}
	if result != config.ResultContinue && result != config.ResultAbandon {
		return fmt.Errorf("%w: result %q is not CONTINUE or ABANDON", ErrInvalid, result)
	}
	i := g.find(inst)
	if i == nil {
		return fmt.Errorf("%w: group %q has no instance %q", ErrNotFound, name, inst)
	}
	if _, ok := i.hooks[hook]; !ok {
		var waiting []string
		for h := range i.hooks {
			waiting = append(waiting, h)
		}
		slices.Sort(waiting)
		if len(waiting) == 0 {
			return fmt.Errorf("%w: instance %q is %s and waits for no lifecycle hook", ErrInvalid, inst, i.state)
		}
		return fmt.Errorf("%w: instance %q does not wait for hook %q; it waits for %s", ErrInvalid, inst, hook, strings.Join(waiting, ", "))
	}
	reason := api.ASGReasonHookContinue
	if result == config.ResultAbandon {
		reason = api.ASGReasonHookAbandon
	}
	c.completeHook(g, i, hook, result, reason)
	return nil
}

// completeHook records a hook's result; the next Step moves the instance.
func (c *Controller) completeHook(g *group, i *instance, hook, result, reason string) {
	delete(i.hooks, hook)
	c.emit(api.Event{Kind: api.EventASGState, ASG: g.cfg.Name, Node: i.name, State: i.state, Reason: reason, Detail: "hook " + hook + ": " + result})
	if result == config.ResultAbandon {
		// ABANDON ends the wait at once: a launching instance is
		// terminated, a terminating one goes on to termination.
		clear(i.hooks)
		if i.state == api.LifecyclePendingWait {
			i.abandon = true
		}
	}
}

func (g *group) find(name string) *instance {
	for _, i := range g.instances {
		if i.name == name {
			return i
		}
	}
	return nil
}

func (c *Controller) state(g *group, i *instance, s, reason string) {
	i.state = s
	c.emit(api.Event{Kind: api.EventASGState, ASG: g.cfg.Name, Node: i.name, IP: addrString(i.ip), State: s, Reason: reason})
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func (g *group) hooksFor(transition string, now time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for _, h := range g.cfg.LifecycleHooks {
		if h.Transition == transition {
			out[h.Name] = now.Add(time.Duration(h.HeartbeatTimeout) * time.Second)
		}
	}
	return out
}

func (g *group) hook(name string) config.LifecycleHook {
	for _, h := range g.cfg.LifecycleHooks {
		if h.Name == name {
			return h
		}
	}
	return config.LifecycleHook{}
}

// active reports whether an instance counts toward the desired capacity.
func active(i *instance) bool {
	switch i.state {
	case api.LifecyclePending, api.LifecyclePendingWait, api.LifecyclePendingProceed, api.LifecycleInService:
		return true
	}
	return false
}

// azCounts counts the active instances per subnet of the group.
func (g *group) azCounts() map[string]int {
	n := map[string]int{}
	for _, i := range g.instances {
		if active(i) {
			n[i.subnet]++
		}
	}
	return n
}

// launchSubnet is the subnet of the AZ with the fewest active instances,
// the first listed on a tie (spec §13.1).
func (g *group) launchSubnet() config.ASGSubnet {
	counts := g.azCounts()
	best := g.cfg.Subnets[0]
	for _, s := range g.cfg.Subnets[1:] {
		if counts[s.Name] < counts[best.Name] {
			best = s
		}
	}
	return best
}

// scaleInVictim is the oldest active instance of the AZ with the most, the
// first listed on a tie (spec §13.1).
func (g *group) scaleInVictim() *instance {
	counts := g.azCounts()
	var subnet string
	for _, s := range g.cfg.Subnets {
		if subnet == "" || counts[s.Name] > counts[subnet] {
			subnet = s.Name
		}
	}
	for _, i := range g.instances { // by number: oldest first
		if active(i) && i.subnet == subnet {
			return i
		}
	}
	return nil
}

// Describe returns every group's state.
func (c *Controller) Describe() []api.ASG {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []api.ASG{}
	for _, g := range c.groups {
		a := api.ASG{
			Name: g.cfg.Name, VPC: g.cfg.VPC, Min: g.cfg.Min, Max: g.cfg.Max, Desired: g.desired,
			HealthCheckType: g.cfg.HealthCheckType, HealthCheckGracePeriod: g.cfg.HealthCheckGracePeriod,
			TargetGroups: []string{}, Instances: []api.ASGInstance{},
		}
		for _, tg := range g.cfg.TargetGroups {
			a.TargetGroups = append(a.TargetGroups, tg.Name)
		}
		for _, i := range g.instances {
			a.Instances = append(a.Instances, c.describe(g, i))
		}
		for _, i := range g.terminated {
			a.Terminated = append(a.Terminated, c.describe(g, i))
		}
		if p := g.policy; p != nil {
			a.Policy = &api.ASGPolicy{Metric: p.cfg.Metric, TargetValue: p.cfg.TargetValue, Value: p.value,
				HighPoints: p.high, LowPoints: p.low, LastScaleOut: p.lastOut, LastScaleIn: p.lastIn, DisableScaleIn: p.cfg.DisableScaleIn}
		}
		out = append(out, a)
	}
	return out
}

func (c *Controller) describe(g *group, i *instance) api.ASGInstance {
	d := api.ASGInstance{Name: i.name, Subnet: i.subnet, AZ: i.az, IP: addrString(i.ip), State: i.state,
		Health: "Healthy", Reason: i.reason, Launched: i.launched, InService: i.inService}
	if i.state == api.LifecycleTerminating || i.state == api.LifecycleTerminatingWait || i.state == api.LifecycleTerminatingProceed || i.state == api.LifecycleTerminated {
		if i.reason == api.ASGReasonUnhealthyEC2 || i.reason == api.ASGReasonUnhealthyELB {
			d.Health = "Unhealthy"
		}
	}
	if i.state != api.LifecycleTerminated && i.ip.IsValid() {
		for _, tg := range g.cfg.TargetGroups {
			if st := c.lb.TargetState(tg.GWLB, i.name); st != "" {
				if d.Targets == nil {
					d.Targets = map[string]string{}
				}
				d.Targets[tg.Name] = st
			}
		}
	}
	for _, h := range slices.Sorted(mapsKeys(i.hooks)) {
		d.WaitingHooks = append(d.WaitingHooks, api.ASGHookWait{Hook: h, Deadline: i.hooks[h], Default: g.hook(h).DefaultResult})
	}
	return d
}

func mapsKeys(m map[string]time.Time) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// instanceName is the name of a group's n-th instance.
func instanceName(group string, n int) string { return group + "-" + strconv.Itoa(n) }

// notify calls onChange if something changed since the last call.
func (c *Controller) notify() {
	c.mu.Lock()
	changed := c.changed
	c.changed = false
	c.mu.Unlock()
	if changed && c.onChange != nil {
		c.onChange()
	}
}
