package cli

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
)

// TestValidateDevZero: an endless file stops at the size limit with an
// error naming it, instead of growing without bound.
func TestValidateDevZero(t *testing.T) {
	_, errOut, code := run(t, "validate", "-f", "/dev/zero")
	want := `gwlb-lab: read topology "/dev/zero": the file is larger than 4 MiB, the most a topology file may hold`
	if code != 1 || strings.TrimSpace(errOut) != want {
		t.Fatalf("code %d, stderr %q; want 1, %q", code, errOut, want)
	}
}

// TestValidateInterrupted: validate reading standard input that never ends
// returns when its context ends (SIGINT in the real command).
func TestValidateInterrupted(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, Env{Args: []string{"validate", "-f", "-"}, Stdin: pr, Stdout: &out, Stderr: &errb})
	}()
	cancel()
	if code := <-done; code == 0 || !strings.Contains(errb.String(), "context canceled") {
		t.Fatalf("code %d, stderr %q", code, errb.String())
	}
}
