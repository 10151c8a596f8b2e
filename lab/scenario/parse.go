package scenario

import (
	"context"
	"fmt"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// File is a parsed scenario file: the scenario as written plus where each
// of its values was written, so that diagnostics carry line numbers.
type File struct {
	// Name is the file name used in messages; topology_file is relative to
	// its directory.
	Name string
	// Scenario is the file's content, as written.
	Scenario Scenario

	lines topology.Lines
}

// Line returns the line on which path (or its nearest written ancestor)
// appears; 0 if none is known.
func (f *File) Line(path string) int { return f.lines.Line(path) }

// written reports whether the file sets path (a key or list item).
func (f *File) written(path string) bool {
	_, ok := f.lines[path]
	return ok
}

// Diagnostics is the findings about a scenario file: topology's, with an
// error text that names a scenario.
type Diagnostics = topology.Diagnostics

// Error is returned by Parse and Check when a file has errors: the
// findings, all of them (warnings too), in file order.
type Error struct{ Diagnostics Diagnostics }

func (e *Error) Error() string { return e.Diagnostics.Format("scenario") }

// Load reads and parses the scenario file at path.
func Load(ctx context.Context, path string) (*File, error) {
	data, err := topology.ReadFileOf(ctx, "scenario", path)
	if err != nil {
		return nil, err
	}
	return Parse(ctx, data, path)
}

// Parse decodes a scenario file strictly, as lab/topology decodes a
// topology file: syntax errors, unknown fields, duplicate keys and values of
// the wrong YAML type come back together as an *Error. The checks of
// meaning are Validate's.
func Parse(ctx context.Context, data []byte, name string) (*File, error) {
	f := &File{Name: name}
	lines, err := topology.DecodeStrict(ctx, data, "scenario", &f.Scenario)
	if err != nil {
		if ds, ok := err.(topology.Diagnostics); ok {
			return nil, &Error{Diagnostics: ds}
		}
		return nil, fmt.Errorf("scenario %q: %w", name, err)
	}
	f.lines = lines
	return f, nil
}
