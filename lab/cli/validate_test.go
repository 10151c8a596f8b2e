package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

const testdata = "../topology/testdata/"

func TestValidateDefaultLab(t *testing.T) {
	out, errOut, code := run(t, "validate")
	if code != 0 || errOut != "" {
		t.Fatalf("code %d, stderr %q, stdout %q", code, errOut, out)
	}
	if out != "default.yaml (embedded): valid, 0 errors, 0 warnings\n" {
		t.Fatalf("stdout %q", out)
	}
}

func TestValidateTable(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want []string // lines of stdout, in order
	}{
		{
			name: "broken file",
			args: []string{"validate", "-f", testdata + "invalid/undefined-route-target.yaml"},
			code: 1,
			want: []string{
				testdata + `invalid/undefined-route-target.yaml:12: error: vpcs.consumer.route_tables.app.routes[0]: target "gwlbe-9" is not defined`,
				testdata + `invalid/undefined-route-target.yaml: invalid, 1 error, 0 warnings`,
			},
		},
		{
			name: "structural error",
			args: []string{"validate", "--file", testdata + "invalid/unknown-field.yaml"},
			code: 1,
			want: []string{
				testdata + `invalid/unknown-field.yaml:7: error: vpcs.consumer.subnets.app: unknown field "route_tabel" (did you mean "route_table"?)`,
				testdata + `invalid/unknown-field.yaml: invalid, 1 error, 0 warnings`,
			},
		},
		{
			name: "warnings only",
			args: []string{"validate", "-f", testdata + "warn/no-edge-route.yaml"},
			code: 0,
			want: []string{
				testdata + `warn/no-edge-route.yaml:7: warning: vpcs.consumer.subnets.app: subnet sends 0.0.0.0/0 through endpoint "gwlbe-1" to internet gateway "igw-consumer", but the gateway has no edge route table: inbound traffic bypasses inspection and GWLB drops the replies of flows it never saw (spec §6.6 #1)`,
				testdata + `warn/no-edge-route.yaml: valid, 0 errors, 1 warning`,
			},
		},
		{
			name: "plain vpc lab",
			args: []string{"validate", "-f", "../../scenarios/plain-vpc.yaml"},
			code: 0,
			want: []string{`../../scenarios/plain-vpc.yaml: valid, 0 errors, 0 warnings`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := run(t, tt.args...)
			if code != tt.code {
				t.Fatalf("code %d, want %d; stdout %q stderr %q", code, tt.code, out, errOut)
			}
			if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("stdout:\n%s\nwant:\n%s", out, strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestValidateMissingFile(t *testing.T) {
	_, errOut, code := run(t, "validate", "-f", "no-such-file.yaml")
	if code != 1 || !strings.Contains(errOut, "read topology") || !strings.Contains(errOut, "no-such-file.yaml") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}

func TestValidateJSON(t *testing.T) {
	out, _, code := run(t, "validate", "--json", "-f", testdata+"invalid/edge-target-igw.yaml")
	if code != 1 {
		t.Fatalf("code %d", code)
	}
	var res struct {
		File     string `json:"file"`
		Valid    bool   `json:"valid"`
		Errors   []map[string]any
		Warnings []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	if res.Valid || res.File != testdata+"invalid/edge-target-igw.yaml" || len(res.Errors) != 1 || len(res.Warnings) != 1 {
		t.Fatalf("result %+v", res)
	}
	e := res.Errors[0]
	if e["path"] != "vpcs.consumer.route_tables.edge.routes[0]" || e["line"] != float64(19) || e["spec"] != "§6.2" ||
		!strings.HasPrefix(e["message"].(string), `target "igw-consumer" is an internet gateway`) {
		t.Fatalf("error %v", e)
	}
	if res.Warnings[0]["spec"] != "§6.6 #1" {
		t.Fatalf("warning %v", res.Warnings[0])
	}

	out, _, code = run(t, "validate", "--json")
	if code != 0 || !strings.Contains(out, `"valid": true`) || !strings.Contains(out, `"errors": []`) || !strings.Contains(out, `"warnings": []`) {
		t.Fatalf("default lab: code %d, %s", code, out)
	}
}

func TestValidateStdin(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), Env{
		Args:   []string{"validate", "-f", "-"},
		Stdin:  strings.NewReader("vpcs:\n  v: {cidr: 10.0.0.0/16, colour: red}\n"),
		Stdout: &out, Stderr: &errb,
	})
	want := "<stdin>:2: error: vpcs.v: unknown field \"colour\" (known fields: cidr, ipv6_cidr, internet_gateway, subnets, route_tables, nat_gateways, instances, gwlb_endpoints)\n<stdin>: invalid, 1 error, 0 warnings\n"
	if code != 1 || out.String() != want {
		t.Fatalf("code %d, stdout %q, want %q", code, out.String(), want)
	}
}

func TestSchemaCommand(t *testing.T) {
	out, _, code := run(t, "schema")
	want, err := topology.Schema()
	if err != nil {
		t.Fatal(err)
	}
	if code != 0 || out != string(want) {
		t.Fatalf("code %d; schema output differs from topology.Schema()", code)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil || v["$ref"] != "#/$defs/Topology" {
		t.Fatalf("schema is not the topology schema: %v", err)
	}
}
