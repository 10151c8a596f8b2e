package topology

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPaths(t *testing.T) {
	tests := []struct {
		parent, key, want, back string
	}{
		{"", "vpcs", "vpcs", ""},
		{"vpcs", "consumer", "vpcs.consumer", "vpcs"},
		{"a.routes[0]", "target", "a.routes[0].target", "a.routes[0]"},
		{"a", "odd.key", `a["odd.key"]`, "a"},
		{"a", `q"[x`, `a["q\"[x"]`, "a"},
	}
	for _, tt := range tests {
		got := childPath(tt.parent, tt.key)
		if got != tt.want {
			t.Errorf("childPath(%q, %q) = %q, want %q", tt.parent, tt.key, got, tt.want)
		}
		if back := parentPath(got); back != tt.back {
			t.Errorf("parentPath(%q) = %q, want %q", got, back, tt.back)
		}
	}
	if got := parentPath(indexPath("a.b", 3)); got != "a.b" {
		t.Errorf("parentPath(a.b[3]) = %q", got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{{"", "", 0}, {"az", "azz", 1}, {"route_tabel", "route_table", 2}, {"cidr", "ipv6_cidr", 5}} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func parseDiags(t *testing.T, src string) []string {
	t.Helper()
	_, err := Parse([]byte(src), "t.yaml")
	var ds Diagnostics
	if !errors.As(err, &ds) {
		t.Fatalf("Parse error %v, want Diagnostics", err)
	}
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

func TestParseReportsEveryStructuralProblem(t *testing.T) {
	got := parseDiags(t, `
vpcs:
  v:
    cidr: 10.0.0.0/16
    sbnets: {}
    subnets:
      s: {az: az1, cidr: [10.0.0.0/24]}
gwlbs: []
colour: blue
`)
	want := []string{
		`vpcs.v: unknown field "sbnets" (did you mean "subnets"?)`,
		`vpcs.v.subnets.s.cidr: expected a single value, got a list`,
		`gwlbs: expected a mapping, got a list`,
		`unknown field "colour" (known fields: lab, vpcs, gwlbs, endpoint_services, internet, transit_gateways, autoscaling_groups)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "~\n"} {
		if got := parseDiags(t, src); len(got) != 1 || got[0] != "the file is empty" {
			t.Errorf("Parse(%q) = %v", src, got)
		}
	}
}

// TestParseAnchorsAndMerges: YAML anchors, aliases and merge keys work, and
// an explicit key wins over a merged one.
func TestParseAnchorsAndMerges(t *testing.T) {
	f, err := Parse([]byte(`
vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets:
      a: &sub {az: az1, cidr: 10.0.1.0/24, route_table: main}
      b:
        <<: *sub
        cidr: 10.0.2.0/24
    route_tables: {main: {}}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := f.Topology.VPCs["v"].Subnets["b"]
	if b.AZ != "az1" || b.CIDR != "10.0.2.0/24" || b.RouteTable != "main" {
		t.Fatalf("merged subnet b = %+v", b)
	}
	if ds := Validate(f); len(ds) != 0 {
		t.Fatalf("unexpected findings: %v", ds)
	}
}

func TestLinePointsAtTheField(t *testing.T) {
	f, err := Parse([]byte(`vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets:
      s:
        az: az1
        cidr: 10.1.0.0/24
        route_table: main
    route_tables: {main: {}}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ds := Validate(f)
	if len(ds) != 1 || ds[0].Line != 7 || ds[0].Path != "vpcs.v.subnets.s" {
		t.Fatalf("findings %+v, want one on line 7 for vpcs.v.subnets.s", ds)
	}
	if got := f.Line("vpcs.v.subnets.s.no_such_field"); got != 5 {
		t.Fatalf("Line of an unwritten path = %d, want its parent's 5", got)
	}
}

func TestDiagnosticsError(t *testing.T) {
	ds := Diagnostics{
		{Severity: SeverityWarning, Path: "a", Line: 1, Message: "w", Spec: "§1"},
		{Severity: SeverityError, Path: "b", Line: 2, Message: "e1"},
		{Severity: SeverityError, Line: 3, Message: "e2"},
	}
	want := "topology: 2 problems:\n  line 2: b: e1\n  line 3: e2"
	if got := ds.Error(); got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if got := ds[0].String(); got != "a: w (spec §1)" {
		t.Fatalf("String() = %q", got)
	}
	if !ds.HasErrors() || ds[:1].HasErrors() {
		t.Fatal("HasErrors is wrong")
	}
}
