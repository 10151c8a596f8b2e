package topology_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/gwlb-lab/gwlb-lab/scenarios"
)

// netipOpts compares netip values by value (their fields are unexported).
func netipOpts() cmp.Options {
	return cmp.Options{
		cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
		cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	}
}

func resolveBytes(t *testing.T, data []byte, lab string) *topology.Lab {
	t.Helper()
	f, err := topology.Parse(data, "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l, err := topology.Resolve(f, lab)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func resolveScenario(t *testing.T, name, lab string) *topology.Lab {
	t.Helper()
	data, err := scenarios.FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return resolveBytes(t, data, lab)
}

// TestResolveGolden compares the resolved scenario labs with the committed
// JSON. Regenerate with: go test ./lab/topology -run TestResolveGolden -update
func TestResolveGolden(t *testing.T) {
	for _, name := range []string{"default", "plain-vpc", "tgw-east-west", "tgw-egress"} {
		t.Run(name, func(t *testing.T) {
			l := resolveScenario(t, name+".yaml", "default")
			got, err := json.MarshalIndent(l, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "resolved", name+".json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (generate it with: go test ./lab/topology -run TestResolveGolden -update)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Fatalf("resolved %s differs from %s (-want +got); if the change is intended, regenerate with: go test ./lab/topology -run TestResolveGolden -update\n%s", name, golden, diff)
			}
			var back topology.Lab
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("resolved lab does not decode from its JSON: %v", err)
			}
			if diff := cmp.Diff(*l, back, netipOpts()); diff != "" {
				t.Fatalf("JSON round trip changed the lab (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveIsDeterministic(t *testing.T) {
	for range 5 {
		a := resolveScenario(t, "default.yaml", "det")
		b := resolveScenario(t, "default.yaml", "det")
		if diff := cmp.Diff(a, b, netipOpts()); diff != "" {
			t.Fatalf("two resolutions differ:\n%s", diff)
		}
	}
	// Another lab name changes every host resource name, id and MAC, but no
	// address.
	a := resolveScenario(t, "default.yaml", "one")
	b := resolveScenario(t, "default.yaml", "two")
	for i := range a.Nodes {
		na, nb := a.Nodes[i], b.Nodes[i]
		if na.Interface.Addr != nb.Interface.Addr {
			t.Errorf("node %s: address depends on the lab name: %v vs %v", na.Name, na.Interface.Addr, nb.Interface.Addr)
		}
		if na.Netns == nb.Netns || na.Interface.MAC == nb.Interface.MAC {
			t.Errorf("node %s: netns or MAC does not depend on the lab name", na.Name)
		}
		if !strings.HasPrefix(na.Netns, "gwlb-one-") {
			t.Errorf("node %s: netns %q lacks the lab prefix", na.Name, na.Netns)
		}
	}
	if a.VPCs[0].Endpoints[0].ID == b.VPCs[0].Endpoints[0].ID {
		t.Errorf("endpoint id does not depend on the lab name")
	}
}

func TestResolvedNames(t *testing.T) {
	l := resolveScenario(t, "default.yaml", "t1")
	web, ok := l.Node("web")
	if !ok {
		t.Fatal("no node web")
	}
	if web.Netns != "gwlb-t1-web" || web.Interface.Name != "eth0" {
		t.Errorf("web: netns %q, interface %q", web.Netns, web.Interface.Name)
	}
	if web.Interface.Addr != netip.MustParsePrefix("10.0.1.10/24") || web.Interface.Gateway != netip.MustParseAddr("10.0.1.1") {
		t.Errorf("web: addr %v gateway %v", web.Interface.Addr, web.Interface.Gateway)
	}
	macs := map[topology.MAC]string{}
	for _, n := range l.Nodes {
		m := n.Interface.MAC
		if m[0]&0x01 != 0 || m[0]&0x02 == 0 {
			t.Errorf("node %s: MAC %s is not locally administered unicast", n.Name, m)
		}
		if other, dup := macs[m]; dup {
			t.Errorf("nodes %s and %s share MAC %s", n.Name, other, m)
		}
		macs[m] = n.Name
	}
	consumer, _ := l.VPC("consumer")
	e, ok := consumer.Endpoint("gwlbe-1")
	if !ok {
		t.Fatal("no endpoint gwlbe-1")
	}
	if len(e.ID) != len("vpce-")+17 || !strings.HasPrefix(e.ID, "vpce-0") || e.ID != fmt.Sprintf("vpce-%017x", e.Number) {
		t.Errorf("endpoint id %q (number %x) is not vpce- and 17 hex digits starting with 0", e.ID, e.Number)
	}
	if e.GWLB != "gwlb-1" || e.GWLBNode != "gwlb-1-az1" || e.Addr != netip.MustParseAddr("10.0.2.4") {
		t.Errorf("endpoint: gwlb %q node %q addr %v", e.GWLB, e.GWLBNode, e.Addr)
	}
	svc, _ := l.EndpointService("inspection")
	if !strings.HasPrefix(svc.ID, "vpce-svc-0") || len(svc.ID) != len("vpce-svc-")+17 {
		t.Errorf("service id %q", svc.ID)
	}
	g, _ := l.GWLB("gwlb-1")
	node, ok := l.Node("gwlb-1-az1")
	if !ok || node.Kind != topology.NodeGWLB || node.Interface.Addr != netip.MustParsePrefix("10.20.0.50/24") || g.Nodes[0].Addr != netip.MustParseAddr("10.20.0.50") {
		t.Errorf("gwlb node: %+v", node)
	}
	client, _ := l.Node("client")
	if client.Interface.Gateway != netip.MustParseAddr("198.51.100.1") || client.Interface.Addr.Bits() != 24 || client.Interface.MTU != topology.InternetMTU {
		t.Errorf("client interface: %+v", client.Interface)
	}
}

// TestDefaultsMatchAWS: a GWLB written with nothing but what is required
// gets AWS's defaults (spec §3.3, §4.1, §4.4, §4.5, §4.6).
func TestDefaultsMatchAWS(t *testing.T) {
	l := resolveBytes(t, []byte(minimalGWLB), "defaults")
	g, _ := l.GWLB("gwlb-1")
	want := topology.TargetGroup{
		Name: "gwlb-1-tg", ID: g.TargetGroup.ID, Protocol: "GENEVE", Port: 6081, TargetType: "instance",
		HealthCheck: topology.HealthCheck{
			Protocol: "TCP", Port: 80, Path: "/", Interval: 10 * time.Second, Timeout: 5 * time.Second,
			HealthyThreshold: 5, UnhealthyThreshold: 2, Matcher: "200-399",
		},
		Stickiness:          "5-tuple",
		TargetFailover:      topology.TargetFailover{OnDeregistration: "no_rebalance", OnUnhealthy: "no_rebalance"},
		DeregistrationDelay: 300 * time.Second,
		Targets:             g.TargetGroup.Targets,
	}
	if diff := cmp.Diff(want, g.TargetGroup, netipOpts()); diff != "" {
		t.Errorf("target group (-want +got):\n%s", diff)
	}
	if g.Listener != (topology.Listener{TCPIdleTimeout: 350 * time.Second, SendTCPResetOnIdleTimeout: false}) {
		t.Errorf("listener %+v", g.Listener)
	}
	if g.CrossZone {
		t.Errorf("cross-zone defaults to on")
	}
	if svc, _ := l.EndpointService("svc"); svc.AcceptanceRequired {
		t.Errorf("acceptance_required defaults to true")
	}
	fw, _ := l.Node("fw")
	if !fw.Interface.SourceDestCheck {
		t.Errorf("source_dest_check defaults to false")
	}
	if l.TimeScale != 1 || l.LabTimings {
		t.Errorf("time_scale %v lab_timings %v", l.TimeScale, l.LabTimings)
	}
	if fw.Run.Appliance.Mode != "forward" || fw.Run.Appliance.HealthPort != 80 {
		t.Errorf("appliance defaults %+v", fw.Run.Appliance)
	}
}

const minimalGWLB = `
vpcs:
  v:
    cidr: 10.1.0.0/16
    subnets:
      s: {az: az1, cidr: 10.1.0.0/24}
    route_tables: {main: {}}
    instances:
      fw: {subnet: s, run: {appliance: {}}}
    gwlb_endpoints:
      e: {subnet: s, service: svc}
gwlbs:
  gwlb-1:
    vpc: v
    subnets: {s: }
    target_group: {targets: [fw]}
endpoint_services:
  svc: {gwlbs: [gwlb-1]}
`

// TestAllocation: missing addresses are the lowest free ones after the
// reserved four, GWLB nodes first, then NAT gateways, endpoints and
// instances, each kind by name; NAT gateways get public addresses from the
// documentation ranges.
func TestAllocation(t *testing.T) {
	l := resolveBytes(t, []byte(`
vpcs:
  v:
    cidr: 10.1.0.0/16
    internet_gateway: igw
    subnets:
      s: {az: az1, cidr: 10.1.0.0/24}
    route_tables: {main: {routes: [{destination: 0.0.0.0/0, target: igw}]}}
    nat_gateways:
      nat-b: {subnet: s}
      nat-a: {subnet: s, private_ip: 10.1.0.6}
    instances:
      zz: {subnet: s}
      aa: {subnet: s, private_ip: 10.1.0.4, public_ip: 203.0.113.100}
gwlbs:
  g:
    vpc: v
    subnets: {s: ~}
    target_group: {targets: [aa]}
`), "alloc")
	v, _ := l.VPC("v")
	addr := func(node string) string {
		n, ok := l.Node(node)
		if !ok {
			t.Fatalf("no node %s", node)
		}
		return n.Interface.Addr.Addr().String()
	}
	natB, _ := v.NATGateway("nat-b")
	natA, _ := v.NATGateway("nat-a")
	got := map[string]string{
		"g-az1": addr("g-az1"), "nat-b": natB.PrivateIP.String(), "zz": addr("zz"),
		"nat-a public": natA.PublicIP.String(), "nat-b public": natB.PublicIP.String(),
	}
	want := map[string]string{
		"g-az1": "10.1.0.5", "nat-b": "10.1.0.7", "zz": "10.1.0.8",
		"nat-a public": "203.0.113.101", "nat-b public": "203.0.113.102",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("allocation (-want +got):\n%s", diff)
	}
	if n := len(v.InternetGateway.PublicIPs); n != 3 {
		t.Errorf("internet gateway maps %d public addresses, want 3", n)
	}
}

func TestResolveRefusesInvalidFiles(t *testing.T) {
	f, err := topology.Load(filepath.Join("testdata", "invalid", "undefined-route-target.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = topology.Resolve(f, "x")
	var ds topology.Diagnostics
	if !errors.As(err, &ds) || len(ds) != 1 || !strings.Contains(err.Error(), `target "gwlbe-9" is not defined`) {
		t.Fatalf("Resolve error = %v", err)
	}
	f, err = topology.Parse(scenarios.Default(), "default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := topology.Resolve(f, "Bad_Name"); !errors.Is(err, topology.ErrLabName) {
		t.Fatalf("Resolve with a bad lab name: %v", err)
	}
}

func TestValidateLabName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"default", true},
		{"a", true},
		{"lab-1", true},
		{"123456789012", true},
		{"1234567890123", false},
		{"", false},
		{"-lab", false},
		{"lab-", false},
		{"Lab", false},
		{"lab_1", false},
		{"lab.1", false},
	}
	for _, tt := range tests {
		err := topology.ValidateLabName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateLabName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, topology.ErrLabName) {
			t.Errorf("ValidateLabName(%q) = %v, not ErrLabName", tt.name, err)
		}
	}
}

func TestMACText(t *testing.T) {
	m := topology.MAC{0x02, 0x00, 0x5e, 0x10, 0xab, 0xff}
	b, _ := m.MarshalText()
	if string(b) != "02:00:5e:10:ab:ff" {
		t.Fatalf("MarshalText = %s", b)
	}
	var back topology.MAC
	if err := back.UnmarshalText(b); err != nil || back != m {
		t.Fatalf("UnmarshalText = %v, %v", back, err)
	}
	if err := back.UnmarshalText([]byte("02:00")); err == nil {
		t.Fatal("UnmarshalText accepted a short address")
	}
}

// TestQuotas: the AWS quotas of spec §8 a file can exceed.
func TestQuotas(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("vpcs:\n  v:\n    cidr: 10.1.0.0/16\n    subnets:\n      s: {az: az1, cidr: 10.1.0.0/16}\n    route_tables: {main: {}}\n    instances:\n")
	for i := range 301 {
		fmt.Fprintf(&b, "      i%d: {subnet: s}\n", i)
	}
	b.WriteString("    gwlb_endpoints:\n")
	for i := range 51 {
		fmt.Fprintf(&b, "      e%d: {subnet: s, service: svc%d}\n", i, i)
	}
	b.WriteString("gwlbs:\n")
	for i := range 101 {
		targets := "[i0]"
		if i == 0 {
			var names []string
			for j := range 301 {
				names = append(names, fmt.Sprintf("i%d", j))
			}
			targets = "[" + strings.Join(names, ", ") + "]"
		}
		fmt.Fprintf(&b, "  g%d: {vpc: v, subnets: {s: }, target_group: {targets: %s}}\n", i, targets)
	}
	b.WriteString("endpoint_services:\n")
	for i := range 51 {
		fmt.Fprintf(&b, "  svc%d: {gwlbs: [g%d]}\n", i, i)
	}
	f, err := topology.Parse(b.Bytes(), "quotas.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`402 nodes are more than 250: up then takes over 5 s on 2 cores, and every node costs about 2 MB of memory with its program`,
		`vpcs.v: vpc has 51 GWLB endpoints; AWS's quota is 50 endpoints per vpc (spec §8)`,
		`gwlbs.g0.target_group: 301 targets exceed AWS's quota of 300 targets per GWLB (spec §8)`,
		`gwlbs.g100: vpc "v" has more than 100 GWLBs (AWS quota) (spec §8)`,
	}
	if diff := cmp.Diff(want, strs(topology.Validate(f))); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
