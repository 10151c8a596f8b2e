package cli

import "testing"

// TestEmulatorProcs: the emulator takes half the CPUs Go would give it, at
// least one, unless --procs (or its environment variable) says otherwise or
// GOMAXPROCS is set.
func TestEmulatorProcs(t *testing.T) {
	for _, c := range []struct {
		flag    int
		goEnv   string
		current int
		want    int
	}{
		{0, "", 1, 1},
		{0, "", 2, 1},
		{0, "", 3, 1},
		{0, "", 8, 4},
		{0, "", 64, 32},
		{2, "", 2, 2},  // --procs wins
		{3, "6", 6, 3}, // over GOMAXPROCS too
		{0, "2", 2, 2}, // GOMAXPROCS kept
		{0, "1", 1, 1},
	} {
		if got := emulatorProcs(c.flag, c.goEnv, c.current); got != c.want {
			t.Errorf("emulatorProcs(%d, %q, %d) = %d, want %d", c.flag, c.goEnv, c.current, got, c.want)
		}
	}
}

// TestEnvInt: unset or empty is 0, a number is itself, anything else -1
// (which --procs refuses).
func TestEnvInt(t *testing.T) {
	const name = "GWLB_LAB_TEST_ENVINT"
	for _, c := range []struct {
		set  bool
		val  string
		want int
	}{
		{false, "", 0}, {true, "", 0}, {true, "3", 3}, {true, "two", -1}, {true, "-2", -2},
	} {
		if c.set {
			t.Setenv(name, c.val)
		}
		if got := envInt(name); got != c.want {
			t.Errorf("%s=%q (set %v): envInt = %d, want %d", name, c.val, c.set, got, c.want)
		}
	}
}
