package health

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
)

// State is a target's health as one node sees it.
type State uint8

// States of spec §4.2 that health checks decide; draining and unused come
// from registration.
const (
	Initial State = iota
	Healthy
	Unhealthy
)

func (s State) String() string {
	switch s {
	case Initial:
		return "initial"
	case Healthy:
		return "healthy"
	}
	return "unhealthy"
}

// AWS reason codes for the states above.
const (
	ReasonInitial = "Elb.InitialHealthChecking"
	ReasonFailed  = "Target.FailedHealthChecks"
)

// Status is one target's health and the last probe's outcome.
type Status struct {
	State     State
	LastProbe time.Time
	LastError string // empty when the last probe succeeded
	// Successes and Failures are the current run of consecutive results.
	Successes, Failures int
}

// Tracker applies the thresholds to a target's probe results.
type Tracker struct {
	HealthyThreshold, UnhealthyThreshold int
	Status
}

// Observe records one probe result and reports whether the state changed:
// HealthyThreshold consecutive successes make a target healthy,
// UnhealthyThreshold consecutive failures unhealthy.
func (t *Tracker) Observe(err error, now time.Time) bool {
	t.LastProbe = now
	before := t.State
	if err == nil {
		t.LastError = ""
		t.Successes++
		t.Failures = 0
		if t.State != Healthy && t.Successes >= t.HealthyThreshold {
			t.State = Healthy
		}
	} else {
		t.LastError = err.Error()
		t.Failures++
		t.Successes = 0
		if t.State != Unhealthy && t.Failures >= t.UnhealthyThreshold {
			t.State = Unhealthy
		}
	}
	return t.State != before
}

// Prober runs one health check against a target address.
type Prober interface {
	Probe(ctx context.Context, target netip.Addr, hc config.HealthCheck) error
}

// Target is what a checker probes.
type Target struct {
	Index int // the load balancer's index of the target
	IP    netip.Addr
}

// Checker checks one node's targets.
type Checker struct {
	hc     config.HealthCheck
	prober Prober
	// wall converts a lab duration to wall-clock time (the lab clock may
	// run faster than real time).
	wall    func(time.Duration) time.Duration
	now     func() time.Time
	targets []Target
	report  func(index int, st Status)
	// override, when set, may fail a target's check without probing it.
	override func(index int) error

	mu       sync.Mutex
	trackers []Tracker
	// starting marks the targets still in their first check of a lab that
	// starts: they are probed every StartProbeInterval and the first
	// success is their verdict (see Run).
	starting []bool
}

// StartProbeInterval is how often (wall-clock) the targets of a starting
// lab are probed until their first success.
const StartProbeInterval = 200 * time.Millisecond

// NewChecker returns a checker of targets whose decisions go to report
// (called after every round, for every target). Targets start in state
// start; starting in Initial means the lab is starting (see Run).
func NewChecker(hc config.HealthCheck, prober Prober, targets []Target, start State,
	now func() time.Time, wall func(time.Duration) time.Duration, report func(int, Status)) *Checker {
	// Zero means unset in a configuration built by hand: take AWS's
	// defaults for a GENEVE target group (spec §4.1) rather than a ticker
	// that cannot be made.
	if hc.Interval <= 0 {
		hc.Interval = DefaultInterval
	}
	if hc.Timeout <= 0 {
		hc.Timeout = DefaultTimeout
	}
	c := &Checker{hc: hc, prober: prober, wall: wall, now: now, targets: targets, report: report,
		trackers: make([]Tracker, len(targets)), starting: make([]bool, len(targets))}
	for i := range c.trackers {
		c.trackers[i] = Tracker{HealthyThreshold: hc.HealthyThreshold, UnhealthyThreshold: hc.UnhealthyThreshold, Status: Status{State: start}}
		c.starting[i] = start == Initial
	}
	return c
}

// SetOverride makes the checker ask fn before each probe of a target (by
// its load balancer index): a non-nil error is the check's result, and the
// target is not probed. The thresholds apply to it as to any result. Call
// it before Run.
func (c *Checker) SetOverride(fn func(index int) error) { c.override = fn }

// AWS's defaults for a GENEVE target group's checks, in seconds (spec §4.1).
const (
	DefaultInterval = 10
	DefaultTimeout  = 5
)

// Starting reports whether some target still waits for its first verdict
// of the lab's start.
func (c *Checker) Starting() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.starting {
		if s && c.trackers[i].State == Initial {
			return true
		}
	}
	return false
}

// StartRound probes once every target still in the first check of a
// starting lab; one success makes it healthy. A failure is only noted: the
// program may not listen yet, and only the regular rounds (Round) count
// failures towards unhealthy.
func (c *Checker) StartRound(ctx context.Context) {
	c.mu.Lock()
	var idx []int
	for i, s := range c.starting {
		if s && c.trackers[i].State == Initial {
			idx = append(idx, i)
		}
	}
	targets := c.targets
	c.mu.Unlock()
	errs := c.probe(ctx, targets, idx)
	if ctx.Err() != nil {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, i := range idx {
		tr := &c.trackers[i]
		if !c.starting[i] || tr.State != Initial {
			continue // a regular round decided meanwhile
		}
		tr.LastProbe = now
		if errs[k] != nil {
			tr.LastError = errs[k].Error()
		} else {
			tr.LastError, tr.State, tr.Successes, tr.Failures = "", Healthy, 1, 0
			c.starting[i] = false
		}
		c.report(c.targets[i].Index, tr.Status)
	}
}

// probe probes the targets of indexes idx concurrently, each within the
// timeout, and returns their errors in the same order.
func (c *Checker) probe(ctx context.Context, targets []Target, idx []int) []error {
	errs := make([]error, len(idx))
	var wg sync.WaitGroup
	for k, i := range idx {
		if c.override != nil {
			if err := c.override(targets[i].Index); err != nil {
				errs[k] = err
				continue
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, c.wall(time.Duration(c.hc.Timeout)*time.Second))
			defer cancel()
			errs[k] = c.prober.Probe(pctx, targets[i].IP, c.hc)
		}()
	}
	wg.Wait()
	return errs
}

// Reset puts a target back to the initial state (after it registers again).
func (c *Checker) Reset(index int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, t := range c.targets {
		if t.Index == index {
			c.trackers[i].Status = Status{State: Initial}
			c.starting[i] = false // a registration checks at the regular pace
			c.report(index, c.trackers[i].Status)
		}
	}
}

// Add starts checking a target registered at run time, in the initial
// state and at the regular pace (AWS's initial checking: the healthy
// threshold of successes, one an interval). Its first verdict comes at the
// next rounds. Adding a target the checker has is a Reset.
func (c *Checker) Add(t Target) {
	c.mu.Lock()
	for _, have := range c.targets {
		if have.Index == t.Index {
			c.mu.Unlock()
			c.Reset(t.Index)
			return
		}
	}
	defer c.mu.Unlock()
	c.targets = append(c.targets, t)
	c.trackers = append(c.trackers, Tracker{HealthyThreshold: c.hc.HealthyThreshold, UnhealthyThreshold: c.hc.UnhealthyThreshold, Status: Status{State: Initial}})
	c.starting = append(c.starting, false)
	c.report(t.Index, c.trackers[len(c.trackers)-1].Status)
}

// Round probes every target once, concurrently, each within the timeout,
// and reports the results.
func (c *Checker) Round(ctx context.Context) {
	c.mu.Lock()
	targets := c.targets // Add only appends: these stay valid
	c.mu.Unlock()
	idx := make([]int, len(targets))
	for i := range idx {
		idx[i] = i
	}
	errs := c.probe(ctx, targets, idx)
	if ctx.Err() != nil {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, t := range targets {
		c.trackers[i].Observe(errs[i], now)
		if c.trackers[i].State != Initial {
			c.starting[i] = false
		}
		c.report(t.Index, c.trackers[i].Status)
	}
}

// Run checks every interval until ctx ends. The first regular round comes
// one interval after the start, as after a registration, which also gives
// the targets' programs time to start with the lab.
//
// Targets of a starting lab (NewChecker with Initial) are also probed every
// StartProbeInterval until their first success, which makes them healthy:
// AWS's initial checking takes healthy_threshold × interval (50 s with the
// defaults), which the lab shortens so that `up` returns within a second of
// its appliances answering. A target that never answers still becomes
// unhealthy after unhealthy_threshold regular rounds.
func (c *Checker) Run(ctx context.Context) {
	interval := c.wall(time.Duration(c.hc.Interval) * time.Second)
	t := time.NewTicker(interval)
	defer t.Stop()
	fast := time.NewTicker(StartProbeInterval)
	defer fast.Stop()
	fastC := fast.C
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.Round(ctx)
		case <-fastC:
			if !c.Starting() {
				fast.Stop()
				fastC = nil
				continue
			}
			c.StartRound(ctx)
		}
	}
}

// Matcher is a set of HTTP status codes: "200", "200-399", "200,202,300-310".
type Matcher [][2]int

// ParseMatcher parses AWS's matcher syntax; empty means 200-399.
func ParseMatcher(s string) (Matcher, error) {
	if strings.TrimSpace(s) == "" {
		s = "200-399"
	}
	var m Matcher
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("matcher %q: %w", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				return nil, fmt.Errorf("matcher %q: %w", s, err)
			}
		}
		if a > b {
			return nil, fmt.Errorf("matcher %q: range %d-%d is empty", s, a, b)
		}
		m = append(m, [2]int{a, b})
	}
	return m, nil
}

// Match reports whether code is in the set.
func (m Matcher) Match(code int) bool {
	for _, r := range m {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}
