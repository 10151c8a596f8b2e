package clock

import (
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
