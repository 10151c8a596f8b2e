package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), Env{Args: args, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Version: "1.2.3"})
	return out.String(), errb.String(), code
}

func TestVersion(t *testing.T) {
	out, _, code := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "gwlb-lab 1.2.3 ") {
		t.Fatalf("version: code %d, output %q", code, out)
	}
	out, _, code = run(t, "version", "--json")
	var v map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["version"] != "1.2.3" {
		t.Fatalf("version --json: code %d, output %q", code, out)
	}
}

func TestUnknownCommandFails(t *testing.T) {
	_, errOut, code := run(t, "no-such-command")
	if code == 0 || !strings.Contains(errOut, "unknown command") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}
