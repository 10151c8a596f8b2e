package supervise

import (
	"testing"
	"time"
)

func TestBackoffDoublesAndCaps(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second, Reset: 10 * time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	n := 1
	for i, w := range want {
		var d time.Duration
		d, n = b.Delay(n, time.Millisecond)
		if d != w*time.Millisecond {
			t.Fatalf("restart %d: %s, want %s", i+1, d, w*time.Millisecond)
		}
	}
	if d, next := b.Delay(n, 11*time.Second); d != 100*time.Millisecond || next != 2 {
		t.Fatalf("after a long run: %s, next %d; want the initial delay again", d, next)
	}
	if d, _ := (Backoff{}).Delay(1, 0); d != DefaultBackoff.Initial {
		t.Fatalf("zero back-off: %s, want the default %s", d, DefaultBackoff.Initial)
	}
}

func TestShouldRestart(t *testing.T) {
	for _, c := range []struct {
		policy string
		code   int
		want   bool
	}{
		{RestartNever, 1, false}, {"", 1, false},
		{RestartOnFailure, 0, false}, {RestartOnFailure, 1, true}, {RestartOnFailure, 139, true},
		{RestartAlways, 0, true}, {RestartAlways, 2, true},
	} {
		if got := ShouldRestart(c.policy, c.code); got != c.want {
			t.Errorf("%s with exit %d: %v, want %v", c.policy, c.code, got, c.want)
		}
	}
}
