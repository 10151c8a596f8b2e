package matchers

import (
	"fmt"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/onsi/gomega/types"
)

// Counter is one drop counter of a lab with the value it had when it was
// made: an emulator drop reason (no_route, endpoint_loop, ...) or a GWLB
// one (no_target, tcp_no_flow, ...), summed over the GWLB nodes.
type Counter struct {
	Lab    Lab
	Name   string
	before counterSet
	err    error
}

// DropCounter reads the counter's value now, as the baseline HaveRisen
// and StayZero compare with.
func DropCounter(l Lab, name string) *Counter {
	c := &Counter{Lab: l, Name: name}
	ctx, cancel := withTimeout()
	defer cancel()
	c.before, c.err = readCounters(ctx, l)
	return c
}

func (c *Counter) String() string { return "drop counter " + c.Name }

// value sums the counter: the emulator's of that name, or the GWLB nodes'.
func (s counterSet) value(name string) (uint64, bool) {
	if v, ok := s[name]; ok {
		return v, true
	}
	var sum uint64
	found := false
	for k, v := range s {
		if _, reason, ok := strings.Cut(k, ": "); ok && reason == name {
			sum += v
			found = true
		}
	}
	return sum, found
}

type counterMatcher struct {
	rise          bool
	before, after uint64
	moved         string
}

// HaveRisen succeeds when the counter is higher than when DropCounter
// read it.
func HaveRisen() types.GomegaMatcher { return &counterMatcher{rise: true} }

// StayZero succeeds when the counter was zero when DropCounter read it and
// still is.
func StayZero() types.GomegaMatcher { return &counterMatcher{} }

func (m *counterMatcher) Match(actual any) (bool, error) {
	c, ok := actual.(*Counter)
	if !ok {
		return false, fmt.Errorf("HaveRisen and StayZero take a *matchers.Counter (DropCounter), not %T", actual)
	}
	if c.err != nil {
		return false, fmt.Errorf("%v: its first reading failed: %w", c, c.err)
	}
	ctx, cancel := withTimeout()
	defer cancel()
	now, err := readCounters(ctx, c.Lab)
	if err != nil {
		return false, err
	}
	var found bool
	if m.before, found = c.before.value(c.Name); !found {
		names := make([]string, 0, len(c.before))
		for k := range c.before {
			if !strings.Contains(k, ": ") {
				names = append(names, k)
			}
		}
		return false, fmt.Errorf("the lab has no drop counter %q (emulator counters: %s; GWLB node counters are named as in status)", c.Name, strings.Join(sortedKeys(toSet(names)), ", "))
	}
	m.after, _ = now.value(c.Name)
	m.moved = moved(c.before, now)
	if m.rise {
		return m.after > m.before, nil
	}
	return m.before == 0 && m.after == 0, nil
}

func toSet(names []string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func (m *counterMatcher) FailureMessage(actual any) string {
	want := "to have risen"
	if !m.rise {
		want = "to stay zero"
	}
	return fmt.Sprintf("Expected %v %s: it was %d, it is %d\ndrop counters that moved meanwhile: %s", actual, want, m.before, m.after, m.moved)
}

func (m *counterMatcher) NegatedFailureMessage(actual any) string {
	want := "not to have risen"
	if !m.rise {
		want = "not to stay zero"
	}
	return fmt.Sprintf("Expected %v %s: it was %d, it is %d\ndrop counters that moved meanwhile: %s", actual, want, m.before, m.after, m.moved)
}

// TargetRef is a target (a name or an address) of a lab's GWLBs.
type TargetRef struct {
	Lab  Lab
	Name string
}

// Target names a target for BeInState.
func Target(l Lab, name string) TargetRef { return TargetRef{Lab: l, Name: name} }

func (t TargetRef) String() string { return "target " + t.Name }

type stateMatcher struct {
	state string
	views []api.TargetHealth
}

// BeInState succeeds when the target is in state (healthy, unhealthy,
// initial, draining, unused) on every GWLB node that checks it (nodes that
// leave it out, across zones, do not count). Use it with Eventually to
// wait; its failure shows each node's view, reason and last probe error.
func BeInState(state string) types.GomegaMatcher { return &stateMatcher{state: state} }

func (m *stateMatcher) Match(actual any) (bool, error) {
	t, ok := actual.(TargetRef)
	if !ok {
		return false, fmt.Errorf("BeInState takes a matchers.TargetRef (Target), not %T", actual)
	}
	ctx, cancel := withTimeout()
	defer cancel()
	ts, err := t.Lab.Targets(ctx)
	if err != nil {
		return false, err
	}
	m.views = m.views[:0]
	for _, th := range ts {
		if (th.Target == t.Name || th.IP == t.Name) && th.Reason != "Target.NotInUse" {
			m.views = append(m.views, th)
		}
	}
	if len(m.views) == 0 {
		return false, fmt.Errorf("%v: no GWLB node checks it (no such target?)", t)
	}
	for _, v := range m.views {
		if v.State != m.state {
			return false, nil
		}
	}
	return true, nil
}

func (m *stateMatcher) describe() string {
	var b strings.Builder
	for _, v := range m.views {
		fmt.Fprintf(&b, "  %s: %s", v.Node, v.State)
		if v.Reason != "" {
			fmt.Fprintf(&b, " (%s)", v.Reason)
		}
		if v.LastError != "" {
			fmt.Fprintf(&b, ", last probe error: %s", v.LastError)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func (m *stateMatcher) FailureMessage(actual any) string {
	return fmt.Sprintf("Expected %v to be %s on every GWLB node that checks it; they see:\n%s", actual, m.state, m.describe())
}

func (m *stateMatcher) NegatedFailureMessage(actual any) string {
	return fmt.Sprintf("Expected %v not to be %s; they see:\n%s", actual, m.state, m.describe())
}
