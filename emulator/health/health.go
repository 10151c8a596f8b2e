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

	mu       sync.Mutex
	trackers []Tracker
}

// NewChecker returns a checker of targets whose decisions go to report
// (called after every round, for every target). Targets start in state
// start.
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
		trackers: make([]Tracker, len(targets))}
	for i := range c.trackers {
		c.trackers[i] = Tracker{HealthyThreshold: hc.HealthyThreshold, UnhealthyThreshold: hc.UnhealthyThreshold, Status: Status{State: start}}
	}
	return c
}

// AWS's defaults for a GENEVE target group's checks, in seconds (spec §4.1).
const (
	DefaultInterval = 10
	DefaultTimeout  = 5
)

// Reset puts a target back to the initial state (after it registers again).
func (c *Checker) Reset(index int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, t := range c.targets {
		if t.Index == index {
			c.trackers[i].Status = Status{State: Initial}
			c.report(index, c.trackers[i].Status)
		}
	}
}

// Round probes every target once, concurrently, each within the timeout,
// and reports the results.
func (c *Checker) Round(ctx context.Context) {
	errs := make([]error, len(c.targets))
	var wg sync.WaitGroup
	for i, t := range c.targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, c.wall(time.Duration(c.hc.Timeout)*time.Second))
			defer cancel()
			errs[i] = c.prober.Probe(pctx, t.IP, c.hc)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, t := range c.targets {
		c.trackers[i].Observe(errs[i], now)
		c.report(t.Index, c.trackers[i].Status)
	}
}

// Run checks every interval until ctx ends. The first round comes one
// interval after the start, as after a registration, which also gives the
// targets' programs time to start with the lab.
func (c *Checker) Run(ctx context.Context) {
	interval := c.wall(time.Duration(c.hc.Interval) * time.Second)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.Round(ctx)
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
