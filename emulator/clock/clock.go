package clock

import (
	"math"
	"sync"
	"time"
)

// The range of speed-ups a lab may ask for (lab.time_scale). Above
// MaxScale the shortest timers (a 1 s health-check timeout, allowed with
// lab.lab_timings) would last under a millisecond of wall time, less than
// a probe takes on a busy machine, and the once-a-second sweep of idle
// entries would lag by more than 1000 lab seconds: timings would no longer
// mean anything. Below MinScale the longest timers (a day, the most any
// timing may be) would not end within a lab's lifetime. Within the range,
// every timer converted by Wall stays well inside time.Duration.
const (
	MinScale = 0.01
	MaxScale = 1000.0
)

// Clock tells lab time.
type Clock interface {
	Now() time.Time
}

// Scaled runs Scale times faster than the wall clock, starting from the wall
// time at which it was made. It is safe for concurrent use.
type Scaled struct {
	start time.Time // wall-clock start, with its monotonic reading
	scale float64
}

// NewScaled returns a clock running scale times faster than real time. A
// scale that is not a number greater than 0 is taken as 1, and one outside
// MinScale-MaxScale is clamped to the range: the configuration's validation
// refuses such values, this keeps a clock that slipped through from making
// zero or overflowing timer intervals (time.NewTicker panics on those).
func NewScaled(scale float64) *Scaled {
	if !(scale > 0) {
		scale = 1
	}
	return &Scaled{start: time.Now(), scale: min(max(scale, MinScale), MaxScale)}
}

// Now returns lab time.
func (c *Scaled) Now() time.Time {
	elapsed := time.Since(c.start)
	return c.start.Add(saturate(float64(elapsed) * c.scale))
}

// Scale returns the speed-up factor.
func (c *Scaled) Scale() float64 { return c.scale }

// Wall converts a lab duration to the wall-clock duration it takes. A
// positive duration stays positive (at least a nanosecond), so that it can
// always serve as a ticker's interval; one too long for a time.Duration
// saturates.
func (c *Scaled) Wall(d time.Duration) time.Duration {
	w := saturate(float64(d) / c.scale)
	if d > 0 && w <= 0 {
		return 1
	}
	return w
}

// saturate converts nanoseconds to a Duration, clamping instead of
// overflowing (a float64 beyond int64's range converts to garbage).
func saturate(ns float64) time.Duration {
	switch {
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	case math.IsNaN(ns):
		return 0
	}
	return time.Duration(ns)
}

// Manual is a clock that moves only when told to; for tests.
type Manual struct {
	mu  sync.Mutex
	now time.Time
}

// NewManual returns a manual clock set to t.
func NewManual(t time.Time) *Manual { return &Manual{now: t} }

// Now returns the clock's time.
func (c *Manual) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Manual) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
