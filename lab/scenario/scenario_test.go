package scenario_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwlb-lab/gwlb-lab/lab/scenario"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

var update = flag.Bool("update", false, "rewrite docs/scenario.schema.json")

const schemaFile = "../../docs/scenario.schema.json"

// TestSchemaFile: the committed schema is the generated one.
func TestSchemaFile(t *testing.T) {
	got, err := scenario.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v; generate it with: go run ./cmd/gwlb-lab scenario schema > docs/scenario.schema.json", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("docs/scenario.schema.json is out of date with the raw types; regenerate it with\n"+
			"  go run ./cmd/gwlb-lab scenario schema > docs/scenario.schema.json\n"+
			"(or go test ./lab/scenario -run TestSchemaFile -update)\n(-committed +generated):\n%s", diff)
	}
}

// TestSchemaHasEveryField: every struct of the raw types, the topology's
// included, has its own $def (no two share a name), and every field is a
// described property of it.
func TestSchemaHasEveryField(t *testing.T) {
	b, err := scenario.Schema()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Ref  string `json:"$ref"`
		Defs map[string]struct {
			Properties map[string]struct {
				Description string `json:"description"`
			} `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Ref != "#/$defs/Scenario" {
		t.Fatalf("root $ref %q", doc.Ref)
	}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(rt reflect.Type) {
		for rt.Kind() == reflect.Pointer || rt.Kind() == reflect.Slice || rt.Kind() == reflect.Map {
			rt = rt.Elem()
		}
		if rt.Kind() != reflect.Struct || seen[rt] {
			return
		}
		seen[rt] = true
		def, ok := doc.Defs[strings.TrimSuffix(rt.Name(), "Spec")]
		if !ok {
			t.Errorf("type %s has no $def", rt.Name())
			return
		}
		for i := range rt.NumField() {
			f := rt.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if prop, ok := def.Properties[name]; !ok || prop.Description == "" {
				t.Errorf("field %s.%s (%s) is missing from the schema or has no description", rt.Name(), f.Name, name)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeFor[scenario.Scenario]())
	if len(seen) != len(doc.Defs) {
		t.Errorf("schema has %d $defs, the raw types %d structs: two types share a $def name", len(doc.Defs), len(seen))
	}
}

// validate parses and validates a scenario written in dir as name.
func validate(t *testing.T, dir, name, text string) topology.Diagnostics {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := scenario.Load(context.Background(), path)
	if err != nil {
		var perr *scenario.Error
		if !asError(err, &perr) {
			t.Fatalf("Load: %v", err)
		}
		return perr.Diagnostics
	}
	return scenario.Validate(context.Background(), f)
}

func asError(err error, target **scenario.Error) bool {
	e, ok := err.(*scenario.Error)
	if ok {
		*target = e
	}
	return ok
}

// finding is a diagnostic as a test expects it.
type finding struct {
	Severity string
	Path     string
	Line     int
	Message  string
}

func findings(ds topology.Diagnostics) []finding {
	out := []finding{}
	for _, d := range ds {
		out = append(out, finding{d.Severity.String(), d.Path, d.Line, d.Message})
	}
	return out
}
