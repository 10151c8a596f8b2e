package docscheck

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// appliancesDoc holds the appliance recipes, as topology snippets.
const appliancesDoc = "docs/appliances.md"

// check parses, validates and resolves a topology; every finding, warnings
// included, is a failure: a recipe must be clean.
func check(src []byte, name string) error {
	f, err := topology.Parse(src, name)
	if err != nil {
		return err
	}
	if ds := topology.Validate(f); len(ds) > 0 {
		return ds
	}
	_, err = topology.Resolve(f, "doc")
	return err
}

// TestApplianceRecipes: every topology snippet of docs/appliances.md is
// valid, so the recipes cannot rot as the topology format moves. Host
// paths (a program, a files: source, a volume) are not checked: no step
// of validation looks at the host.
func TestApplianceRecipes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), appliancesDoc))
	if err != nil {
		t.Fatal(err)
	}
	var lab []byte
	labs, nodes := 0, 0
	for _, bl := range YAMLBlocks(string(b)) {
		where := fmt.Sprintf("%s:%d", appliancesDoc, bl.Line)
		switch bl.Kind {
		case SnippetLab:
			labs++
			if err := check([]byte(bl.Text), where); err != nil {
				t.Errorf("%s: the lab does not validate: %v", where, err)
			} else if lab == nil {
				lab = []byte(bl.Text)
			}
		case SnippetNode:
			nodes++
			if lab == nil {
				t.Errorf("%s: a node recipe before a valid lab to put it in (a ```yaml lab block)", where)
				continue
			}
			src, err := WithNodes(lab, []byte(bl.Text))
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if err := check(src, where); err != nil {
				t.Errorf("%s: the recipe does not validate in the page's lab: %v\n%s", where, err, src)
			}
		default:
			t.Errorf("%s: a yaml block marked %q: mark it ```yaml lab (a whole topology) or ```yaml node (instance entries)", where, bl.Kind)
		}
	}
	if labs == 0 || nodes == 0 {
		t.Errorf("%s: %d labs and %d node recipes; want a lab and recipes", appliancesDoc, labs, nodes)
	}
}

func TestYAMLBlocks(t *testing.T) {
	doc := "text\n```yaml lab\na: 1\n```\n```sh\nls\n```\n```yaml\nb: 2\nc: 3\n```\n"
	got := YAMLBlocks(doc)
	want := []Block{{Kind: "lab", Line: 3, Text: "a: 1\n"}, {Kind: "", Line: 9, Text: "b: 2\nc: 3\n"}}
	if !slices.Equal(got, want) {
		t.Errorf("YAMLBlocks = %+v, want %+v", got, want)
	}
}

func TestWithNodes(t *testing.T) {
	lab := "vpcs: {security: {instances: {fw-1: {subnet: a}}}}\ngwlbs: {gwlb-1: {target_group: {targets: [fw-1]}}}\n"
	out, err := WithNodes([]byte(lab), []byte("b-1: {subnet: a}\na-1: {subnet: a}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "gwlbs:\n    gwlb-1:\n        target_group:\n            targets:\n                - a-1\n                - b-1\n" +
		"vpcs:\n    security:\n        instances:\n            a-1:\n                subnet: a\n            b-1:\n                subnet: a\n"
	if string(out) != want {
		t.Errorf("WithNodes:\n%s\nwant:\n%s", out, want)
	}
	if _, err := WithNodes([]byte("vpcs: {}\n"), []byte("a: {}\n")); err == nil {
		t.Error("a lab without vpcs.security took nodes")
	}
	if _, err := WithNodes([]byte(lab), []byte("{}\n")); err == nil {
		t.Error("an empty node snippet was taken")
	}
}
