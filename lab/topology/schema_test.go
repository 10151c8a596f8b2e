package topology_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

const schemaFile = "../../docs/topology.schema.json"

// TestSchemaFile: the committed schema is the generated one.
func TestSchemaFile(t *testing.T) {
	got, err := topology.Schema()
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
		t.Fatalf("%v; generate it with: go run ./cmd/gwlb-lab schema > docs/topology.schema.json", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("docs/topology.schema.json is out of date with the raw types; regenerate it with\n"+
			"  go run ./cmd/gwlb-lab schema > docs/topology.schema.json\n"+
			"(or go test ./lab/topology -run TestSchemaFile -update)\n(-committed +generated):\n%s", diff)
	}
}

type schemaDoc struct {
	Ref  string                `json:"$ref"`
	Defs map[string]schemaNode `json:"$defs"`
}

type schemaNode struct {
	Ref                  string                `json:"$ref"`
	Type                 any                   `json:"type"`
	Description          string                `json:"description"`
	Default              any                   `json:"default"`
	Enum                 []any                 `json:"enum"`
	Properties           map[string]schemaNode `json:"properties"`
	Required             []string              `json:"required"`
	AdditionalProperties any                   `json:"additionalProperties"`
}

func loadSchema(t *testing.T) schemaDoc {
	t.Helper()
	b, err := topology.Schema()
	if err != nil {
		t.Fatal(err)
	}
	var doc schemaDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestSchemaHasEveryField walks the raw types and checks that every YAML
// field is a described property of its type's $def, and that every object
// forbids unknown properties.
func TestSchemaHasEveryField(t *testing.T) {
	doc := loadSchema(t)
	if doc.Ref != "#/$defs/Topology" {
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
		if def.AdditionalProperties != false {
			t.Errorf("$def of %s allows unknown properties", rt.Name())
		}
		for i := range rt.NumField() {
			f := rt.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			prop, ok := def.Properties[name]
			if !ok {
				t.Errorf("field %s.%s (%s) is missing from the schema", rt.Name(), f.Name, name)
				continue
			}
			if prop.Description == "" {
				t.Errorf("field %s.%s has no description (desc tag)", rt.Name(), name)
			}
			walk(f.Type)
		}
		if len(def.Properties) != rt.NumField() {
			t.Errorf("$def of %s has %d properties, the type %d fields", rt.Name(), len(def.Properties), rt.NumField())
		}
	}
	walk(reflect.TypeFor[topology.Topology]())
	if len(seen) != len(doc.Defs) {
		t.Errorf("schema has %d $defs, the raw types %d structs", len(doc.Defs), len(seen))
	}
}

// TestSchemaDefaults: the defaults the schema shows editors are the ones
// Resolve applies.
func TestSchemaDefaults(t *testing.T) {
	doc := loadSchema(t)
	tests := []struct {
		def, prop string
		want      any
	}{
		{"Lab", "time_scale", topology.DefaultTimeScale},
		{"Listener", "tcp_idle_timeout", topology.DefaultTCPIdleTimeout.Seconds()},
		{"TargetGroup", "deregistration_delay", topology.DefaultDeregistrationDelay.Seconds()},
		{"TargetGroup", "stickiness", string(topology.DefaultStickiness)},
		{"TargetGroup", "target_type", string(topology.DefaultTargetType)},
		{"TargetFailover", "on_deregistration", string(topology.DefaultTargetFailover)},
		{"TargetFailover", "on_unhealthy", string(topology.DefaultTargetFailover)},
		{"HealthCheck", "protocol", topology.DefaultHealthCheckProtocol},
		{"HealthCheck", "port", float64(topology.DefaultHealthCheckPort)},
		{"HealthCheck", "path", topology.DefaultHealthCheckPath},
		{"HealthCheck", "interval", topology.DefaultHealthCheckInterval.Seconds()},
		{"HealthCheck", "timeout", topology.DefaultHealthCheckTimeout.Seconds()},
		{"HealthCheck", "healthy_threshold", float64(topology.DefaultHealthyThreshold)},
		{"HealthCheck", "unhealthy_threshold", float64(topology.DefaultUnhealthyThreshold)},
		{"HealthCheck", "matcher", topology.DefaultMatcher},
		{"GWLB", "cross_zone", false},
		{"EndpointService", "acceptance_required", false},
		{"Instance", "source_dest_check", topology.DefaultSourceDestCheck},
		{"HTTPEcho", "port", float64(topology.DefaultHTTPEchoPort)},
		{"Appliance", "health_port", float64(topology.DefaultHealthPort)},
		{"Appliance", "mode", string(topology.DefaultApplianceMode)},
		{"Reflector", "health_port", float64(topology.DefaultHealthPort)},
		{"GWLB", "max_flows_per_node", float64(topology.DefaultMaxFlowsPerNode)},
		{"Appliance", "flow_log_max_bytes", float64(topology.DefaultFlowLogMaxBytes)},
	}
	for _, tt := range tests {
		got := doc.Defs[tt.def].Properties[tt.prop].Default
		if got != tt.want {
			t.Errorf("%s.%s: schema default %v (%T), Resolve's %v (%T)", tt.def, tt.prop, got, got, tt.want, tt.want)
		}
	}
}

// TestSchemaRequired: the required fields are marked.
func TestSchemaRequired(t *testing.T) {
	doc := loadSchema(t)
	want := map[string][]string{
		"Topology":        {"vpcs"},
		"VPC":             {"cidr"},
		"Subnet":          {"az", "cidr"},
		"Route":           {"destination", "target"},
		"Instance":        {"subnet"},
		"GWLBEndpoint":    {"subnet", "service"},
		"GWLB":            {"vpc", "subnets", "target_group"},
		"EndpointService": {"gwlbs"},
		"InternetHost":    {"ip"},
		"FirewallRule":    {"action"},
	}
	for def, fields := range want {
		if diff := cmp.Diff(fields, doc.Defs[def].Required); diff != "" {
			t.Errorf("%s required (-want +got):\n%s", def, diff)
		}
	}
}

// TestDocsMentionEveryField: docs/topology.md documents every field.
func TestDocsMentionEveryField(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "topology.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs := string(b)
	for def, node := range loadSchema(t).Defs {
		for prop := range node.Properties {
			if !strings.Contains(docs, "`"+prop+"`") {
				t.Errorf("docs/topology.md does not mention `%s` (of %s)", prop, def)
			}
		}
	}
}
