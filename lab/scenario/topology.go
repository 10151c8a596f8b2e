package scenario

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/gwlb-lab/gwlb-lab/scenarios"
)

// Builtins are the values of topology_builtin: the lab files shipped in the
// binary (package scenarios), by file name without .yaml.
var Builtins = []string{"default", "plain-vpc"}

// The keys that name a scenario's topology, in the order messages list them.
const (
	keyTopology        = "topology"
	keyTopologyFile    = "topology_file"
	keyTopologyBuiltin = "topology_builtin"
)

// topologySources returns the keys of the topology sources the file sets.
func (f *File) topologySources() []string {
	var set []string
	if f.Scenario.Topology != nil || f.written(keyTopology) {
		set = append(set, keyTopology)
	}
	if f.Scenario.TopologyFile != "" || f.written(keyTopologyFile) {
		set = append(set, keyTopologyFile)
	}
	if f.Scenario.TopologyBuiltin != "" || f.written(keyTopologyBuiltin) {
		set = append(set, keyTopologyBuiltin)
	}
	return set
}

// TopologyPath returns the path of the scenario's topology_file as it is
// opened: relative to the scenario file's directory unless absolute; ""
// when the scenario does not name one.
func (f *File) TopologyPath() string {
	p := f.Scenario.TopologyFile
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(f.Name), p)
}

// TopologyFile returns the scenario's topology, parsed and ready for
// topology.Validate and topology.Resolve: the inline one (named after the
// scenario file, so that its run.files are relative to it), topology_file,
// or the built-in lab. Parse errors of another file come back as
// topology.Diagnostics of that file.
func (f *File) TopologyFile(ctx context.Context) (*topology.File, error) {
	src := f.topologySources()
	if len(src) != 1 {
		return nil, fmt.Errorf("scenario %q: set exactly one of topology, topology_file and topology_builtin", f.Name)
	}
	switch src[0] {
	case keyTopology:
		if f.Scenario.Topology == nil {
			return nil, fmt.Errorf("scenario %q: topology is empty", f.Name)
		}
		return topology.NewFile(f.Name, *f.Scenario.Topology, f.lines.Under(keyTopology)), nil
	case keyTopologyFile:
		return topology.LoadContext(ctx, f.TopologyPath())
	}
	name := f.Scenario.TopologyBuiltin
	data, err := fs.ReadFile(scenarios.FS, name+".yaml")
	if err != nil || strings.ContainsAny(name, "/.") {
		return nil, fmt.Errorf("scenario %q: no built-in topology %q (built-in: %s)", f.Name, name, strings.Join(Builtins, ", "))
	}
	return topology.ParseContext(ctx, data, name+".yaml (embedded)")
}

// checkTopology finds, parses and validates the scenario's topology, adding
// its findings to the scenario's, and returns it resolved; nil when it has
// errors (the steps cannot be checked against it then).
func (c *checker) checkTopology(ctx context.Context) *topology.Lab {
	src := c.f.topologySources()
	switch len(src) {
	case 0:
		c.errorf("", "a scenario needs its lab: set one of topology (inline), topology_file or topology_builtin")
		return nil
	case 1:
	default:
		c.errorf(src[1], "set exactly one of topology, topology_file and topology_builtin; this file sets %s", strings.Join(src, " and "))
		return nil
	}
	key := src[0]
	switch key {
	case keyTopology:
		if c.f.Scenario.Topology == nil {
			c.errorf(key, "topology is empty: write the lab inline as in a topology file (docs/topology.md)")
			return nil
		}
	case keyTopologyBuiltin:
		if !contains(Builtins, c.f.Scenario.TopologyBuiltin) {
			c.errorf(key, "no built-in topology %q (built-in: %s)", c.f.Scenario.TopologyBuiltin, strings.Join(Builtins, ", "))
			return nil
		}
	}
	tf, err := c.f.TopologyFile(ctx)
	var diags topology.Diagnostics
	switch {
	case errors.As(err, &diags):
	case err != nil:
		c.errorf(key, "%v", err)
		return nil
	default:
		diags = topology.Validate(tf)
	}
	for _, d := range diags {
		if key == keyTopology {
			// The inline topology's paths are relative to it; its lines
			// are the scenario file's already.
			d.Path = underTopology(d.Path)
		} else {
			d = c.foreign(key, tf, d)
		}
		c.diags = append(c.diags, d)
	}
	if diags.HasErrors() {
		return nil
	}
	lab, err := topology.Resolve(tf, checkLabName)
	if err != nil {
		c.errorf(key, "the topology does not resolve: %v", err)
		return nil
	}
	return lab
}

// checkLabName is the lab name the topology is resolved under for the
// checks: any valid name does, names and addresses do not depend on it.
const checkLabName = "scenario"

// underTopology puts a path of the inline topology under the scenario's
// topology key.
func underTopology(path string) string {
	switch {
	case path == "":
		return keyTopology
	case strings.HasPrefix(path, "["):
		return keyTopology + path
	}
	return keyTopology + "." + path
}

// foreign turns a finding about another file (topology_file, a built-in
// lab) into one about the key that names it, keeping the other file's
// location in the message.
func (c *checker) foreign(key string, tf *topology.File, d topology.Diagnostic) topology.Diagnostic {
	name := c.f.TopologyPath()
	if tf != nil {
		name = tf.Name
	} else if key == keyTopologyBuiltin {
		name = c.f.Scenario.TopologyBuiltin + ".yaml (embedded)"
	}
	loc := name
	if d.Line > 0 {
		loc = fmt.Sprintf("%s:%d", name, d.Line)
	}
	msg := d.Message
	if d.Path != "" {
		msg = d.Path + ": " + msg
	}
	return topology.Diagnostic{
		Severity: d.Severity,
		Path:     key,
		Line:     c.f.Line(key),
		Message:  loc + ": " + msg,
		Spec:     d.Spec,
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
