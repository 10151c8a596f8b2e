package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPanickingProgram is not a test on its own: TestTailLeadsWithPanic runs
// the test binary with this test selected and GWLB_LAB_TEST_PANIC set, to
// get the log of a Go program that panics the way the emulator did with an
// out-of-range time_scale.
func TestPanickingProgram(t *testing.T) {
	if os.Getenv("GWLB_LAB_TEST_PANIC") != "1" {
		t.Skip("only run as a child of TestTailLeadsWithPanic")
	}
	os.Stdout.WriteString("emulator running\n")
	time.NewTicker(time.Duration(0))
}

// TestTailLeadsWithPanic: when a program dies in a panic, the error `up`
// returns leads with the panic's message, not with the last lines of its
// stack trace.
func TestTailLeadsWithPanic(t *testing.T) {
	log := filepath.Join(t.TempDir(), "emulator.log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	// An earlier run's failure in the same (appended) log must not be the
	// one reported.
	f.WriteString("gwlb-lab: an earlier run's error\n")
	cmd := exec.Command(os.Args[0], "-test.run=^TestPanickingProgram$", "-test.v")
	cmd.Env = append(os.Environ(), "GWLB_LAB_TEST_PANIC=1")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err == nil {
		t.Fatal("the panicking program exited 0")
	}
	f.Close()

	got := tail(log, 10)
	first, _, _ := strings.Cut(got, "\n")
	if want := "panic: non-positive interval for NewTicker"; !strings.HasPrefix(first, want) {
		t.Fatalf("tail leads with %q, want %q; tail:\n%s", first, want, got)
	}
	if !strings.Contains(got, "log "+log+":\n") {
		t.Fatalf("tail lost the log excerpt:\n%s", got)
	}
}

func TestCauseLine(t *testing.T) {
	for _, tt := range []struct {
		log, want string
	}{
		{"starting\nlistening\n", ""},
		{"starting\ngwlb-lab: invalid configuration: time_scale must be between 0.01 and 1000, got 2e+10\n",
			"gwlb-lab: invalid configuration: time_scale must be between 0.01 and 1000, got 2e+10"},
		{"panic: first [recovered]\n\tpanic: second\n\ngoroutine 1 [running]:\nmain.main()\n\t/x.go:3 +0x1\nexit status 2\n", "panic: first [recovered]"},
		{"fatal error: concurrent map writes\n\ngoroutine 7 [running]:\n", "fatal error: concurrent map writes"},
		{"gwlb-lab: old\npanic: new\n\ngoroutine 1 [running]:\n", "panic: new"},
	} {
		if got := causeLine(strings.Split(tt.log, "\n")); got != tt.want {
			t.Errorf("causeLine(%q) = %q, want %q", tt.log, got, tt.want)
		}
	}
}
