package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrintLogTail(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "emulator.log")
	var b strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if err := os.WriteFile(log, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	printLogTail(&out, log, 3)
	want := "last lines of " + log + ":\n  line 28\n  line 29\n  line 30\n"
	if out.String() != want {
		t.Errorf("tail of 30 lines, 3 wanted:\n%s\nwant:\n%s", out.String(), want)
	}

	out.Reset()
	printLogTail(&out, filepath.Join(dir, "missing.log"), 3)
	if out.Len() != 0 {
		t.Errorf("a missing log printed %q, want nothing", out.String())
	}
}

func TestUpHelpTellsForeground(t *testing.T) {
	out, _, code := run(t, "up", "--help")
	if code != 0 {
		t.Fatalf("up --help exited %d", code)
	}
	for _, want := range []string{"[--foreground]", "--foreground", "SIGTERM", "exits 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("up --help lacks %q:\n%s", want, out)
		}
	}
}
