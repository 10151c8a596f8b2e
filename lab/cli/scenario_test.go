package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/lab/scenario"
)

// TestScenarioValidate: text and JSON output for a valid and a broken file
// together, exit status 1 when any file has errors.
func TestScenarioValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(good, "name: g\ntopology_builtin: default\nsteps:\n  - traffic: {name: in, from: client, to: web}\n  - expect: [{reaches: {traffic: in}}]\n")
	write(bad, "name: b\ntopology_builtin: default\nsteps:\n  - traffic: {name: in, from: client, to: web, port: 0}\n  - expect: [{reaches: {traffic: in}}]\n")

	out, errOut, code := run(t, "scenario", "validate", good)
	if code != 0 || errOut != "" || out != good+": valid, 0 errors, 0 warnings\n" {
		t.Fatalf("good file: code %d, stdout %q, stderr %q", code, out, errOut)
	}

	out, _, code = run(t, "scenario", "validate", good, bad)
	want := good + ": valid, 0 errors, 0 warnings\n" +
		bad + ":4: error: steps[0].traffic.port: port 0 is not between 1 and 65535\n" +
		bad + ": invalid, 1 error, 0 warnings\n"
	if code != 1 || out != want {
		t.Fatalf("code %d, stdout:\n%s\nwant:\n%s", code, out, want)
	}

	out, _, code = run(t, "scenario", "validate", "--json", good, bad, filepath.Join(dir, "none.yaml"))
	var res scenarioValidateResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if code != 1 || res.Valid || len(res.Files) != 3 || !res.Files[0].Valid || res.Files[1].Valid || res.Files[2].Valid {
		t.Fatalf("code %d, result %+v", code, res)
	}
	if e := res.Files[1].Errors[0]; e.Path != "steps[0].traffic.port" || e.Line != 4 {
		t.Errorf("finding %+v", e)
	}
	if e := res.Files[2].Errors[0]; !strings.Contains(e.Message, "no such file") {
		t.Errorf("missing file: %+v", e)
	}
}

func TestScenarioSchemaIsTheGenerated(t *testing.T) {
	out, _, code := run(t, "scenario", "schema")
	want, err := scenario.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || !bytes.Equal([]byte(out), want) {
		t.Fatalf("code %d; scenario schema differs from scenario.Schema()", code)
	}
}
