package topology_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/gwlb-lab/gwlb-lab/scenarios"
)

// FuzzTopology runs arbitrary bytes through everything `up` does before it
// touches the system: parse, validate, resolve and compile to the
// emulator's configuration. Nothing may panic or hang, parse errors are
// always diagnostics with a line, and a file that validates without errors
// must resolve and compile to a configuration the emulator accepts. The
// seeds are every shipped scenario and every file of testdata, plus small
// alias bombs (full-size ones take too long per run to mutate usefully;
// TestAliasBombs covers them).
func FuzzTopology(f *testing.F) {
	if err := fs.WalkDir(scenarios.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		data, err := scenarios.FS.ReadFile(path)
		f.Add(data)
		return err
	}); err != nil {
		f.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(wideBomb(30)))
	f.Add([]byte(mergeBomb(5)))

	f.Fuzz(func(t *testing.T, data []byte) {
		// Go's fuzzer does not detect hangs; a run this long is one (they
		// take milliseconds), and crashing the worker records the input.
		hang := time.AfterFunc(10*time.Second, func() { panic("parse, validate and resolve took over 10s") })
		defer hang.Stop()
		file, err := topology.Parse(data, "fuzz.yaml")
		if err != nil {
			var ds topology.Diagnostics
			if !errors.As(err, &ds) && !errors.Is(err, topology.ErrFileTooLarge) {
				t.Fatalf("Parse returned %T %v, want diagnostics", err, err)
			}
			for _, d := range ds {
				if d.Severity != topology.SeverityError || d.Message == "" {
					t.Fatalf("parse diagnostic %+v is not an error with a message", d)
				}
			}
			return
		}
		if topology.Validate(file).HasErrors() {
			if _, err := topology.Resolve(file, "fuzz"); err == nil {
				t.Fatal("Resolve accepted a file with validation errors")
			}
			return
		}
		l, err := topology.Resolve(file, "fuzz")
		if err != nil {
			t.Fatalf("Resolve of a valid file: %v", err)
		}
		snap, err := lab.Compile(l, lab.InDir("/run/netns"), "/run/gwlb-lab/fuzz/control.sock")
		if err != nil {
			t.Fatalf("Compile of a valid file: %v", err)
		}
		if err := snap.Validate(); err != nil {
			t.Fatalf("the emulator would refuse a valid file: %v", err)
		}
	})
}
