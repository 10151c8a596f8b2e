package clock

import (
	"sync"
	"time"
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

// NewScaled returns a clock running scale times faster than real time; a
// scale ≤ 0 is taken as 1.
func NewScaled(scale float64) *Scaled {
	if !(scale > 0) {
		scale = 1
	}
	return &Scaled{start: time.Now(), scale: scale}
}

// Now returns lab time.
func (c *Scaled) Now() time.Time {
	elapsed := time.Since(c.start)
	return c.start.Add(time.Duration(float64(elapsed) * c.scale))
}

// Scale returns the speed-up factor.
func (c *Scaled) Scale() float64 { return c.scale }

// Wall converts a lab duration to the wall-clock duration it takes.
func (c *Scaled) Wall(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.scale)
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
