package asg

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
)

// Run calls Step every interval (wall time) until ctx ends.
func (c *Controller) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Step()
		}
	}
}

// Step runs one round of every group at the lab clock's present. The
// actuator and the balancer are called without the controller's lock
// held, so Describe and the control verbs never wait for a launch.
func (c *Controller) Step() {
	c.stepMu.Lock()
	defer c.stepMu.Unlock()
	for _, g := range c.groups {
		c.step(g)
	}
	c.notify()
}

// health is what the checks found of an InService instance.
type health struct {
	i      *instance
	alive  bool
	elbBad bool
}

// ops are the calls one round makes outside the lock.
type ops struct {
	launch, register, deregister, drainCheck, terminate []*instance
}

func (c *Controller) step(g *group) {
	now := c.clock.Now()
	// Inputs read without the lock: metrics, health.
	var active int
	var newFlows uint64
	sample := false
	c.mu.Lock()
	if p := g.policy; p != nil && !now.Before(p.nextSample) {
		sample = true
	}
	var checked, pending []*instance
	for _, i := range g.instances {
		if i.state == api.LifecycleInService && now.Sub(i.inService) >= time.Duration(g.cfg.HealthCheckGracePeriod)*time.Second {
			checked = append(checked, i)
		}
		if (i.state == api.LifecyclePendingWait || i.state == api.LifecyclePendingProceed) && i.nodeUp {
			pending = append(pending, i)
		}
	}
	c.mu.Unlock()
	if sample {
		seen := map[string]bool{}
		for _, tg := range g.cfg.TargetGroups {
			if !seen[tg.GWLB] {
				seen[tg.GWLB] = true
				a, n := c.lb.Metrics(tg.GWLB)
				active += a
				newFlows += n
			}
		}
	}
	var found []health
	for _, i := range checked {
		h := health{i: i, alive: c.act.Alive(i.name)}
		if g.cfg.HealthCheckType == "ELB" {
			for _, tg := range g.cfg.TargetGroups {
				if c.lb.TargetState(tg.GWLB, i.name) == "unhealthy" {
					h.elbBad = true
				}
			}
		}
		found = append(found, h)
	}
	var gone []*instance // Pending instances whose node or program is gone
	for _, i := range pending {
		if !c.act.Alive(i.name) {
			gone = append(gone, i)
		}
	}

	c.mu.Lock()
	c.timeouts(g, now)
	if sample {
		c.evaluate(g, now, active, newFlows)
	}
	for _, h := range found {
		if h.i.state != api.LifecycleInService {
			continue
		}
		reason := ""
		switch {
		case !h.alive:
			reason = api.ASGReasonUnhealthyEC2
		case h.elbBad:
			reason = api.ASGReasonUnhealthyELB
		}
		if reason != "" {
			c.emit(api.Event{Kind: api.EventASGUnhealthy, ASG: g.cfg.Name, Node: h.i.name, IP: addrString(h.i.ip), Reason: reason})
			g.replace++
			c.terminate(g, h.i, reason)
		}
	}
	c.launchFailures(g, now, gone)
	c.capacity(g, now)
	c.advance(g)
	o := c.plan(g)
	c.mu.Unlock()

	c.execute(g, o)
}

// timeouts applies the default result of every hook whose heartbeat
// timeout has passed.
func (c *Controller) timeouts(g *group, now time.Time) {
	for _, i := range g.instances {
		for _, h := range slices.Sorted(mapsKeys(i.hooks)) {
			if dl, ok := i.hooks[h]; ok && !now.Before(dl) {
				c.completeHook(g, i, h, g.hook(h).DefaultResult, api.ASGReasonHookTimeout)
			}
		}
	}
}

// launchFailures judges as failed launches (spec §13.4) the instances
// whose launch has taken longer than the launch timeout and the Pending
// ones whose node or program is gone: each is terminated (its node, if
// made, removed) and the group launches another after launchRetry.
func (c *Controller) launchFailures(g *group, now time.Time, gone []*instance) {
	fail := func(i *instance, reason, detail string) {
		c.emit(api.Event{Kind: api.EventASGState, ASG: g.cfg.Name, Node: i.name, IP: addrString(i.ip), State: i.state, Reason: reason, Detail: detail})
		i.reason = reason
		clear(i.hooks)
		c.state(g, i, api.LifecycleTerminatingProceed, reason)
		g.retryAt = now.Add(launchRetry)
	}
	wall := c.wall()
	for _, i := range g.instances {
		if i.state == api.LifecyclePending && i.launching && wall.Sub(i.launchStart) >= c.launchTimeout {
			fail(i, api.ASGReasonLaunchTimeout, fmt.Sprintf("its node was not made within %s: launch failed, the group launches another", c.launchTimeout))
		}
	}
	for _, i := range gone {
		if i.state == api.LifecyclePendingWait || i.state == api.LifecyclePendingProceed {
			fail(i, api.ASGReasonPendingUnhealthy, "its node or program is gone before it was InService: launch failed, the group launches another")
		}
	}
}

// capacity launches or terminates toward the desired capacity.
func (c *Controller) capacity(g *group, now time.Time) {
	n := 0
	for _, i := range g.instances {
		if active(i) {
			n++
		}
	}
	for ; n > g.desired; n-- {
		v := g.scaleInVictim()
		if v == nil {
			break
		}
		c.terminate(g, v, api.ASGReasonCapacity)
	}
	if now.Before(g.retryAt) {
		return
	}
	for ; n < g.desired; n++ {
		s := g.launchSubnet()
		i := &instance{name: instanceName(g.cfg.Name, g.next), n: g.next, subnet: s.Name, az: s.AZ, launched: now, reason: api.ASGReasonCapacity}
		g.next++
		if g.replace > 0 {
			g.replace--
			i.reason = api.ASGReasonReplacement
		}
		g.instances = append(g.instances, i)
		c.emit(api.Event{Kind: api.EventASGLaunch, ASG: g.cfg.Name, Node: i.name, Reason: i.reason, Detail: "subnet " + s.Name + ", az " + s.AZ})
		c.state(g, i, api.LifecyclePending, i.reason)
	}
}

// terminate starts an instance's termination (spec §13.3): deregistration
// and draining first, then the terminating hooks.
func (c *Controller) terminate(g *group, i *instance, reason string) {
	i.reason = reason
	clear(i.hooks)
	c.state(g, i, api.LifecycleTerminating, reason)
}

// advance moves instances whose waits are over.
func (c *Controller) advance(g *group) {
	for _, i := range g.instances {
		switch {
		case i.state == api.LifecyclePendingWait && i.abandon:
			// An abandoned launch is terminated without registration or
			// terminating hooks.
			i.reason = api.ASGReasonHookAbandon
			c.state(g, i, api.LifecycleTerminatingProceed, api.ASGReasonHookAbandon)
		case i.state == api.LifecyclePendingWait && len(i.hooks) == 0:
			c.state(g, i, api.LifecyclePendingProceed, "")
		case i.state == api.LifecycleTerminatingWait && len(i.hooks) == 0:
			c.state(g, i, api.LifecycleTerminatingProceed, "")
		}
	}
}

// plan lists the calls this round makes.
func (c *Controller) plan(g *group) ops {
	var o ops
	for _, i := range g.instances {
		switch i.state {
		case api.LifecyclePending:
			if !i.launching && !i.nodeUp {
				i.launching, i.launchStart = true, c.wall()
				o.launch = append(o.launch, i)
			}
		case api.LifecyclePendingProceed:
			o.register = append(o.register, i)
		case api.LifecycleTerminating:
			switch {
			case i.launching:
				// wait for the launch to end
			case i.registered && !i.deregistered:
				o.deregister = append(o.deregister, i)
			case i.registered:
				o.drainCheck = append(o.drainCheck, i)
			default:
				c.afterDrain(g, i)
				if i.state == api.LifecycleTerminatingProceed {
					o.terminate = append(o.terminate, i)
				}
			}
		case api.LifecycleTerminatingProceed:
			if !i.launching { // a timed-out launch: once it ends
				o.terminate = append(o.terminate, i)
			}
		}
	}
	return o
}

// afterDrain starts the terminating hooks, or proceeds.
func (c *Controller) afterDrain(g *group, i *instance) {
	i.hooks = g.hooksFor(config.TransitionTerminating, c.clock.Now())
	if len(i.hooks) > 0 {
		c.state(g, i, api.LifecycleTerminatingWait, "")
		return
	}
	c.state(g, i, api.LifecycleTerminatingProceed, "")
}

// execute makes the round's calls, then records their results.
func (c *Controller) execute(g *group, o ops) {
	// The round's launches run one after another on their own: the round
	// waits for them up to launchWait, and one that hangs is judged by
	// the launch timeout of a later round.
	if len(o.launch) > 0 {
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, i := range o.launch {
				ip, err := c.act.Launch(g.cfg.Name, i.name, i.subnet)
				c.launched(g, i, ip, err)
			}
		}()
		wait := time.NewTimer(c.launchWait)
		select {
		case <-done:
		case <-wait.C:
		}
		wait.Stop()
	}
	for _, i := range o.register {
		var errs []error
		for _, tg := range g.cfg.TargetGroups {
			if err := c.lb.Register(tg.GWLB, i.name); err != nil {
				errs = append(errs, fmt.Errorf("target group %s: %w", tg.Name, err))
			}
		}
		c.mu.Lock()
		if len(errs) > 0 {
			c.failed(g, i, fmt.Sprintf("registration failed, retried: %v", errs))
		} else if i.state == api.LifecyclePendingProceed {
			i.registered = len(g.cfg.TargetGroups) > 0
			i.inService = c.clock.Now()
			c.state(g, i, api.LifecycleInService, api.ASGReasonRegistered)
		}
		c.mu.Unlock()
	}
	for _, i := range o.deregister {
		var errs []error
		for _, tg := range g.cfg.TargetGroups {
			if err := c.lb.Deregister(tg.GWLB, i.name); err != nil {
				errs = append(errs, fmt.Errorf("target group %s: %w", tg.Name, err))
			}
		}
		c.mu.Lock()
		if len(errs) > 0 {
			c.failed(g, i, fmt.Sprintf("deregistration failed, retried: %v", errs))
		} else {
			i.deregistered = true
			c.emit(api.Event{Kind: api.EventASGState, ASG: g.cfg.Name, Node: i.name, IP: addrString(i.ip), State: i.state, Reason: i.reason, Detail: "deregistered: draining"})
		}
		c.mu.Unlock()
	}
	for _, i := range o.drainCheck {
		draining := false
		for _, tg := range g.cfg.TargetGroups {
			draining = draining || c.lb.TargetState(tg.GWLB, i.name) == "draining"
		}
		if draining {
			continue
		}
		c.mu.Lock()
		if i.state == api.LifecycleTerminating {
			c.emit(api.Event{Kind: api.EventASGState, ASG: g.cfg.Name, Node: i.name, State: i.state, Reason: api.ASGReasonDrained})
			i.registered = false
			c.afterDrain(g, i)
			if i.state == api.LifecycleTerminatingProceed {
				o.terminate = append(o.terminate, i)
			}
		}
		c.mu.Unlock()
	}
	for _, i := range o.terminate {
		var err error
		if i.nodeUp {
			err = c.act.Terminate(g.cfg.Name, i.name)
		}
		c.mu.Lock()
		if err != nil {
			c.failed(g, i, "termination failed, retried: "+err.Error())
		} else {
			i.nodeUp = false
			c.state(g, i, api.LifecycleTerminated, i.reason)
			c.finish(g, i)
		}
		c.mu.Unlock()
	}
}

// launched records the end of an instance's launch. A launch that ends
// after the round that started it notifies by itself.
func (c *Controller) launched(g *group, i *instance, ip netip.Addr, err error) {
	c.mu.Lock()
	i.launching = false
	switch {
	case i.state != api.LifecyclePending:
		// Judged failed meanwhile (launch timeout) or terminated: a node
		// that was made is removed by the next round.
		if err == nil {
			i.ip, i.nodeUp = ip, true
		}
	case err != nil:
		g.retryAt = c.clock.Now().Add(launchRetry)
		c.emit(api.Event{Kind: api.EventASGState, ASG: g.cfg.Name, Node: i.name, State: api.LifecycleTerminated, Reason: api.ASGReasonLaunchFailed, Detail: err.Error()})
		i.reason = api.ASGReasonLaunchFailed
		c.finish(g, i)
	default:
		i.ip, i.nodeUp = ip, true
		i.hooks = g.hooksFor(config.TransitionLaunching, c.clock.Now())
		if len(i.hooks) > 0 {
			c.state(g, i, api.LifecyclePendingWait, "")
		} else {
			c.state(g, i, api.LifecyclePendingProceed, "")
		}
	}
	c.mu.Unlock()
	c.notify()
}

// failed reports a call that failed and is retried next round; the same
// failure again is not reported again.
func (c *Controller) failed(g *group, i *instance, detail string) {
	if detail == i.lastFailure {
		return
	}
	i.lastFailure = detail
	c.emit(api.Event{Kind: api.EventASGState, ASG: g.cfg.Name, Node: i.name, State: i.state, Detail: detail})
}

// finish moves an instance to the group's terminated list.
func (c *Controller) finish(g *group, i *instance) {
	i.state = api.LifecycleTerminated
	i.terminatedAt = c.clock.Now()
	g.instances = slices.DeleteFunc(g.instances, func(x *instance) bool { return x == i })
	g.terminated = append(g.terminated, i)
	if len(g.terminated) > keepTerminated {
		g.terminated = g.terminated[len(g.terminated)-keepTerminated:]
	}
}

// evaluate takes one datapoint of the policy's metric and scales when an
// alarm fires (spec §13.5).
func (c *Controller) evaluate(g *group, now time.Time, active int, newFlows uint64) {
	p := g.policy
	p.nextSample = p.nextSample.Add(Datapoint)
	if !p.nextSample.After(now) {
		p.nextSample = now.Add(Datapoint)
	}
	var total float64
	switch p.cfg.Metric {
	case config.MetricActiveFlowCountPerTarget:
		total = float64(active)
	case config.MetricNewFlowCountPerTarget:
		if !p.haveNew {
			p.lastNew, p.haveNew = newFlows, true
			return
		}
		total = float64(newFlows - min(newFlows, p.lastNew))
		p.lastNew = newFlows
	}
	in := 0
	for _, i := range g.instances {
		if i.state == api.LifecycleInService {
			in++
		}
	}
	if in == 0 {
		return // no InService instance: no datapoint
	}
	p.value = total / float64(in)
	switch {
	case p.value > p.cfg.TargetValue:
		p.high++
		p.low = 0
	case p.value < LowFraction*p.cfg.TargetValue:
		p.low++
		p.high = 0
	default:
		p.high, p.low = 0, 0
	}
	want := int(math.Ceil(total / p.cfg.TargetValue))
	want = min(max(want, g.cfg.Min), g.cfg.Max)
	out := time.Duration(p.cfg.ScaleOutCooldown) * time.Second
	in2 := time.Duration(p.cfg.ScaleInCooldown) * time.Second
	if p.high >= HighPoints && (p.lastOut.IsZero() || now.Sub(p.lastOut) >= out) && want > g.desired {
		c.setDesired(g, want, api.ASGReasonScaleOut)
		p.lastOut, p.last, p.high = now, now, 0
	}
	if p.low >= LowPoints && !p.cfg.DisableScaleIn && (p.last.IsZero() || now.Sub(p.last) >= in2) && want < g.desired {
		c.setDesired(g, want, api.ASGReasonScaleIn)
		p.lastIn, p.last, p.low = now, now, 0
	}
}
