package gwlb

import (
	"errors"
	"fmt"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
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
	t.deregistered.CompareAndSwap(0, int64(lb.since(now))+1)
	return nil
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

func (lb *LB) target(name string) *Target {
	for _, t := range lb.targets {
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
func (n *Node) Candidates() []*Target { return n.candidates }

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
	for _, c := range n.candidates {
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
	for _, t := range n.candidates {
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
