package topology_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// TestDecodeStrictAndUnder: a document embedding a topology decodes
// strictly, and Lines.Under gives the embedded topology's lines by paths
// relative to it, odd keys and list items included.
func TestDecodeStrictAndUnder(t *testing.T) {
	type doc struct {
		Name     string             `yaml:"name"`
		Topology *topology.Topology `yaml:"topology"`
		Other    []string           `yaml:"topology_notes"`
	}
	data := []byte("name: x\ntopology:\n  vpcs:\n    \"odd key\": {cidr: 10.0.0.0/16}\ntopology_notes: [a]\n")
	var d doc
	lines, err := topology.DecodeStrict(context.Background(), data, "test", &d)
	if err != nil {
		t.Fatal(err)
	}
	got := lines.Under("topology")
	want := topology.Lines{"": 2, "vpcs": 3, `vpcs["odd key"]`: 4, `vpcs["odd key"].cidr`: 4}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	f := topology.NewFile("x.yaml", *d.Topology, got)
	if n := f.Line(`vpcs["odd key"].subnets`); n != 4 {
		t.Errorf("line of an unwritten child: %d, want its parent's 4", n)
	}

	_, err = topology.DecodeStrict(context.Background(), []byte("name: x\n---\nname: y\n"), "test", &d)
	var ds topology.Diagnostics
	if e, ok := err.(topology.Diagnostics); ok {
		ds = e
	}
	if len(ds) != 1 || ds[0].Message != "a test file holds one YAML document; found a second one" {
		t.Errorf("second document: %v", err)
	}
	if _, err := topology.DecodeStrict(context.Background(), []byte("name: x\nnmae: y\n"), "test", &d); err == nil ||
		err.(topology.Diagnostics).Format("test") != `test: line 2: unknown field "nmae" (did you mean "name"?)` {
		t.Errorf("unknown field: %v", err)
	}
}
