package gwlb

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/health"
)

// ErrNoTarget is returned for a target name the target group does not have.
var ErrNoTarget = fmt.Errorf("no such target")

// registration is a target's place in its target group's life (spec §4.5).
type registration uint8

const (
	registered registration = iota
	draining                // deregistered, the deregistration delay running
	unused                  // deregistered and the delay over
)

func (lb *LB) registration(t *Target, at time.Duration) registration {
	d := t.deregistered.Load()
	if d == 0 {
		return registered
	}
	if at-time.Duration(d-1) < time.Duration(lb.cfg.TargetGroup.DeregistrationDelay)*time.Second {
		return draining
	}
	return unused
}

// Deregister starts draining a target: it gets no new flows at once, and
// is unused once the deregistration delay has passed (spec §4.5).
func (lb *LB) Deregister(name string, now time.Time) error {
	t := lb.target(name)
	if t == nil {
		return fmt.Errorf("%w %q in target group %q", ErrNoTarget, name, lb.cfg.TargetGroup.Name)
	}
	t.deregistered.CompareAndSwap(0, deregStamp(lb.since(now)))
	return nil
}

// deregStamp is the value of Target.deregistered for a deregistration at
// lab time at since the epoch; never 0, which means registered.
func deregStamp(at time.Duration) int64 {
	if v := int64(at) + 1; v != 0 {
		return v
	}
	return -1 // at -1 ns: one nanosecond off
}

// DeregisterSince marks a target deregistered since lab time at, which may
// be before this load balancer was made: a restarted emulator takes back a
// deregistration, the rest of its delay still draining (spec §4.5).
func (lb *LB) DeregisterSince(name string, at time.Time) error {
	t := lb.target(name)
	if t == nil {
		return fmt.Errorf("%w %q in target group %q", ErrNoTarget, name, lb.cfg.TargetGroup.Name)
	}
	t.deregistered.Store(deregStamp(lb.since(at)))
	return nil
}

// DeregisteredAt is the lab time at which a deregistered target was
// deregistered; ok is false for a registered target.
func (lb *LB) DeregisteredAt(t *Target) (at time.Time, ok bool) {
	d := t.deregistered.Load()
	if d == 0 {
		return time.Time{}, false
	}
	return lb.epoch.Add(time.Duration(d - 1)), true
}

// Register registers a deregistered target again. Its health starts over
// in the initial state on every node; the caller restarts its checks.
func (lb *LB) Register(name string) (*Target, error) {
	t := lb.target(name)
	if t == nil {
		return nil, fmt.Errorf("%w %q in target group %q", ErrNoTarget, name, lb.cfg.TargetGroup.Name)
	}
	if t.deregistered.Swap(0) != 0 {
		for _, n := range lb.nodes {
			n.SetHealth(t.index, health.Status{State: health.Initial})
		}
	}
	return t, nil
}

// ErrTooManyTargets is returned when a target group has MaxTargets targets.
var ErrTooManyTargets = fmt.Errorf("target group full (%d targets)", MaxTargets)

// Add registers a target the target group does not have yet (a runtime
// registration of any instance of the lab): it starts initial on every node
// that balances over it, so it gets no new flow before its checks pass
// (spec §4.2), and flows of other targets are untouched. A target the group
// has already (by name or address) is registered again, as by Register.
// added reports whether the target is new; the caller starts its checks.
func (lb *LB) Add(tc config.Target) (t *Target, added bool, err error) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	var keys []string
	if tc.Name != "" {
		keys = append(keys, tc.Name)
	}
	if tc.IP.IsValid() {
		keys = append(keys, tc.IP.String())
	}
	for _, key := range keys {
		if old := lb.target(key); old != nil {
			if old.IP != tc.IP {
				return nil, false, fmt.Errorf("target %q of target group %q has address %s, not %s", key, lb.cfg.TargetGroup.Name, old.IP, tc.IP)
			}
			t, err := lb.Register(key)
			return t, false, err
		}
	}
	if !tc.IP.IsValid() {
		return nil, false, fmt.Errorf("target %q has no address", tc.Name)
	}
	old := lb.Targets()
	if len(old) >= MaxTargets {
		return nil, false, ErrTooManyTargets
	}
	t = &Target{Name: tc.Name, IP: tc.IP, AZ: tc.AZ, index: len(old)}
	for _, n := range lb.nodes {
		// The slot has not been used: set it before any reader can see
		// the target.
		n.health[t.index].Store(uint32(health.Initial))
		n.failing[t.index].Store(false)
		n.statusMu.Lock()
		n.status[t.index] = health.Status{State: health.Initial}
		if !lb.enabled[t.AZ] {
			n.notInUse = append(n.notInUse, t)
		}
		n.statusMu.Unlock()
		if lb.enabled[t.AZ] && (lb.cfg.CrossZone || t.AZ == n.AZ) {
			c := append(slices.Clip(n.Candidates()), t)
			n.candidates.Store(&c)
		}
	}
	all := append(slices.Clip(old), t)
	lb.targets.Store(&all)
	return t, true, nil
}

// Registered reports whether the target is registered (not draining nor
// unused).
func (lb *LB) Registered(t *Target) bool { return t.deregistered.Load() == 0 }

// Draining reports whether a deregistered target is still draining at now.
func (lb *LB) Draining(t *Target, now time.Time) bool {
	return lb.registration(t, lb.since(now)) == draining
}

// DeregistrationDelay is the target group's deregistration delay (lab time).
func (lb *LB) DeregistrationDelay() time.Duration {
	return time.Duration(lb.cfg.TargetGroup.DeregistrationDelay) * time.Second
}

// TargetType is the target group's target type: instance or ip.
func (lb *LB) TargetType() string { return lb.cfg.TargetGroup.TargetType }

// Enabled reports whether the load balancer has a node in the AZ.
func (lb *LB) Enabled(az string) bool { return lb.enabled[az] }

// State is the node's health state of a target (by index).
func (n *Node) State(index int) health.State { return health.State(n.health[index].Load()) }

func (lb *LB) target(name string) *Target {
	for _, t := range lb.Targets() {
		if t.Name == name || t.IP.String() == name {
			return t
		}
	}
	return nil
}

// ErrForcedFailure is the result of a health check forced to fail.
var ErrForcedFailure = errors.New("health check forced to fail (gwlb-lab targets clear-health)")

// ForceFail makes every health check of the target (by index) from this
// node fail, without probing, until cleared: the target goes unhealthy after
// the unhealthy threshold, exactly as with a real failing check (spec §4).
func (n *Node) ForceFail(index int, fail bool) { n.failing[index].Store(fail) }

// Forced returns ErrForcedFailure when the target's checks are forced to
// fail, else nil; the node's health checker asks before each probe.
func (n *Node) Forced(index int) error {
	if n.failing[index].Load() {
		return ErrForcedFailure
	}
	return nil
}

// Target returns the load balancer's target by name or address, nil when
// it has none.
func (lb *LB) Target(name string) *Target { return lb.target(name) }

// Candidates are the targets this node balances over.
func (n *Node) Candidates() []*Target { return *n.candidates.Load() }

// SetHealth records the node's health decision for a target.
func (n *Node) SetHealth(index int, st health.Status) {
	n.health[index].Store(uint32(st.State))
	n.statusMu.Lock()
	n.status[index] = st
	n.statusMu.Unlock()
}

func (n *Node) healthy(t *Target) bool {
	return health.State(n.health[t.index].Load()) == health.Healthy
}

// rebalance reports whether target failover moves flows off t now: its
// health failed, or its deregistration delay ended, and the matching
// attribute says rebalance (spec §4.4).
func (n *Node) rebalance(t *Target, at time.Duration) bool {
	tg := n.lb.cfg.TargetGroup
	switch {
	case tg.OnUnhealthy == "rebalance" && health.State(n.health[t.index].Load()) == health.Unhealthy:
		return true
	case tg.OnDeregistration == "rebalance" && n.lb.registration(t, at) == unused:
		return true
	}
	return false
}

// choose picks a target for a new flow by its hash h: among the node's
// registered, healthy candidates; with none, among the registered ones
// whatever their health, and then pinned (spec §4.3: the flow is dropped
// until its target is healthy). Draining and unused targets get nothing.
func (n *Node) choose(h uint64, at time.Duration) (t *Target, pinned bool) {
	var buf, buf2 [64]*Target
	healthy, all := buf[:0], buf2[:0]
	for _, c := range *n.candidates.Load() {
		if n.lb.registration(c, at) != registered {
			continue
		}
		if n.healthy(c) {
			healthy = append(healthy, c)
		} else if len(healthy) == 0 {
			all = append(all, c)
		}
	}
	if len(healthy) > 0 {
		return healthy[h%uint64(len(healthy))], false
	}
	if len(all) == 0 {
		return nil, false
	}
	return all[h%uint64(len(all))], true
}

// Targets reports the health of each of the node's candidate targets.
func (n *Node) Targets(now time.Time) []api.TargetHealth {
	at := n.lb.since(now)
	n.statusMu.Lock()
	defer n.statusMu.Unlock()
	var out []api.TargetHealth
	for _, t := range n.Candidates() {
		st := n.status[t.index]
		th := api.TargetHealth{GWLB: n.lb.Name, Node: n.Name, AZ: n.AZ, Target: t.Name, IP: t.IP.String(), TargetAZ: t.AZ,
			State: st.State.String(), LastError: st.LastError, ForcedFailure: n.failing[t.index].Load()}
		if !st.LastProbe.IsZero() {
			th.LastProbe = st.LastProbe.UTC().Format(time.RFC3339Nano)
		}
		switch n.lb.registration(t, at) {
		case draining:
			th.State, th.Reason = "draining", "Target.DeregistrationInProgress"
		case unused:
			th.State, th.Reason = "unused", "Target.NotRegistered"
		default:
			switch st.State {
			case health.Initial:
				th.Reason = health.ReasonInitial
			case health.Unhealthy:
				th.Reason = health.ReasonFailed
			}
		}
		out = append(out, th)
	}
	for _, t := range n.notInUse {
		out = append(out, api.TargetHealth{GWLB: n.lb.Name, Node: n.Name, AZ: n.AZ, Target: t.Name, IP: t.IP.String(), TargetAZ: t.AZ,
			State: "unused", Reason: "Target.NotInUse"})
	}
	return out
}
