package clock

import (
	"math"
	"testing"
	"time"
)

func TestScaledRunsFaster(t *testing.T) {
	c := NewScaled(1000)
	w0 := time.Now()
	l0 := c.Now()
	// Wait for a condition, not a fixed time: lab time must pass at least
	// 1000 times faster than the wall time we observe around it.
	for time.Since(w0) < 2*time.Millisecond {
	}
	wall := time.Since(w0)
	lab := c.Now().Sub(l0)
	if lab < 500*wall {
		t.Fatalf("lab time advanced %v over %v of wall time; want ≥ 500x", lab, wall)
	}
	if got := c.Wall(10 * time.Second); got != 10*time.Millisecond {
		t.Fatalf("Wall(10s) = %v, want 10ms", got)
	}
}

func TestScaledDefaultsToOne(t *testing.T) {
	if s := NewScaled(0).Scale(); s != 1 {
		t.Fatalf("scale %v, want 1", s)
	}
}

func TestManual(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := NewManual(t0)
	c.Advance(350 * time.Second)
	if got := c.Now().Sub(t0); got != 350*time.Second {
		t.Fatalf("advanced %v", got)
	}
}

// TestScaledOutOfRange: whatever scale a clock is given, every positive
// timer interval it converts stays positive and in range, so that
// time.NewTicker never panics (it did at 2e10 and 1e308: zero intervals,
// and at 1e-9: an overflow to a negative one).
func TestScaledOutOfRange(t *testing.T) {
	for _, tt := range []struct {
		scale, want float64
	}{
		{1e308, MaxScale}, {2e10, MaxScale}, {math.Inf(1), MaxScale},
		{1e-9, MinScale}, {math.SmallestNonzeroFloat64, MinScale},
		{math.NaN(), 1}, {-5, 1}, {math.Inf(-1), 1},
		{MaxScale, MaxScale}, {MinScale, MinScale}, {100, 100},
	} {
		c := NewScaled(tt.scale)
		if c.Scale() != tt.want {
			t.Errorf("NewScaled(%v).Scale() = %v, want %v", tt.scale, c.Scale(), tt.want)
		}
		for _, d := range []time.Duration{1, time.Second, 5 * time.Second, 24 * time.Hour, math.MaxInt64} {
			w := c.Wall(d)
			if w <= 0 {
				t.Errorf("scale %v: Wall(%v) = %v, want positive", tt.scale, d, w)
				continue
			}
			time.NewTicker(w).Stop() // panics on a non-positive interval
		}
		if now := c.Now(); now.Before(c.start) {
			t.Errorf("scale %v: Now() %v is before the start %v", tt.scale, now, c.start)
		}
	}
	// Lab time saturates rather than wrapping when it runs past what a
	// time.Duration holds.
	c := &Scaled{start: time.Now().Add(-200 * 24 * time.Hour), scale: MaxScale}
	if now := c.Now(); now.Before(c.start) {
		t.Fatalf("after 200 days at %v, Now() %v wrapped before the start %v", MaxScale, now, c.start)
	}
}
