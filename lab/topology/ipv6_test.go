package topology_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// dualstackLab is a small dualstack consumer VPC; the replacer below swaps
// APP6 (app's ::/0 route) and CLIENT (the client's extra fields).
const dualstackLab = `
vpcs:
  c:
    cidr: 10.0.0.0/16
    ipv6_cidr: 2600:1f18:0:100::/56
    internet_gateway: igw
    subnets:
      app: {az: az1, cidr: 10.0.1.0/24, ipv6_cidr: "2600:1f18:0:101::/64", route_table: app}
      ep: {az: az1, cidr: 10.0.2.0/28, ipv6_cidr: "2600:1f18:0:102::/64", route_table: ep}
    route_tables:
      app:
        routes:
          - {destination: 0.0.0.0/0, target: gwlbe-1}
APP6
      ep:
        routes:
          - {destination: 0.0.0.0/0, target: igw}
          - {destination: "::/0", target: igw}
      edge:
        edge_association: igw
        routes:
          - {destination: 10.0.1.0/24, target: gwlbe-1}
          - {destination: "2600:1f18:0:101::/64", target: gwlbe-1}
    instances:
      web: {subnet: app, private_ip: 10.0.1.10, public_ip: 203.0.113.10}
      pinned: {subnet: app, private_ip: 10.0.1.11, ipv6_address: "2600:1f18:0:101::beef"}
    gwlb_endpoints:
      gwlbe-1: {subnet: ep, service: svc}
  s:
    cidr: 10.20.0.0/16
    subnets:
      g: {az: az1, cidr: 10.20.0.0/24, route_table: main}
    route_tables:
      main: {}
    instances:
      fw: {subnet: g, private_ip: 10.20.0.11}
gwlbs:
  gw:
    vpc: s
    subnets: {g: 10.20.0.50}
    target_group: {targets: [fw]}
endpoint_services:
  svc: {gwlbs: [gw]}
internet:
  hosts:
    client:
      ip: 198.51.100.10
CLIENT
`

func dualstackYAML(app6, client string) []byte {
	return []byte(strings.NewReplacer("APP6", app6, "CLIENT", client).Replace(dualstackLab))
}

const (
	app6Endpoint = `          - {destination: "::/0", target: gwlbe-1}`
	clientV6     = `      ipv6: "2001:db8:1::10"`
)

func TestResolveDualstack(t *testing.T) {
	l := resolveBytes(t, dualstackYAML(app6Endpoint, clientV6), "ds")
	v, _ := l.VPC("c")
	app, _ := v.Subnet("app")
	if app.RouterV6 != netip.MustParseAddr("2600:1f18:0:101::1") {
		t.Errorf("app router %s", app.RouterV6)
	}
	want := map[string][2]string{ // node -> addr6, gateway6
		"web":    {"2600:1f18:0:101::a/64", "2600:1f18:0:101::1"},
		"pinned": {"2600:1f18:0:101::beef/64", "2600:1f18:0:101::1"},
		"client": {"2001:db8:1::10/64", "2001:db8:1::1"},
		"fw":     {"invalid Prefix", "invalid IP"},
	}
	for n, w := range want {
		node, ok := l.Node(n)
		if !ok {
			t.Fatalf("no node %q", n)
		}
		if got := [2]string{node.Interface.Addr6.String(), node.Interface.Gateway6.String()}; got != w {
			t.Errorf("%s: %v, want %v", n, got, w)
		}
	}
	ep, _ := v.Endpoint("gwlbe-1")
	if ep.Addr6 != netip.MustParseAddr("2600:1f18:0:102::4") {
		t.Errorf("endpoint %s / %s", ep.Addr, ep.Addr6)
	}
	if got := l.Internet.Segments[0].IPv6; len(got) != 1 || got[0] != (topology.SegmentIPv6{Prefix: netip.MustParsePrefix("2001:db8:1::/64"), Gateway: netip.MustParseAddr("2001:db8:1::1")}) {
		t.Errorf("segment IPv6 %v", got)
	}
	rt, _ := v.RouteTable("app")
	var dsts []string
	for _, r := range rt.Routes {
		dsts = append(dsts, r.Destination.String()+" "+r.Target.String())
	}
	if diff := cmp.Diff([]string{"10.0.0.0/16 local", "2600:1f18:0:100::/56 local", "0.0.0.0/0 gwlbe-1", "::/0 gwlbe-1"}, dsts); diff != "" {
		t.Errorf("app routes (-want +got):\n%s", diff)
	}
}

func TestDualstackRules(t *testing.T) {
	tests := []struct {
		name, app6, client string
		want               []string // errors, or warnings when no error
	}{
		{"no ipv6 default route", "", clientV6, []string{
			`vpcs.c.subnets.app: subnet sends 0.0.0.0/0 through endpoint "gwlbe-1" but has no ::/0 route: its IPv6 replies and egress are dropped, uninspected (spec §6.6 #15)`}},
		{"ipv6 default route to the igw", `          - {destination: "::/0", target: igw}`, clientV6, []string{
			`vpcs.c.subnets.app: subnet sends 0.0.0.0/0 through endpoint "gwlbe-1" but ::/0 to igw: its IPv6 traffic bypasses inspection (spec §6.6 #15)`}},
		{"client inside the vpc block", app6Endpoint, `      ipv6: "2600:1f18:0:1ff::10"`, []string{
			`vpcs.c: ipv6_cidr 2600:1f18:0:100::/56 overlaps the IPv6 /64 of internet host "client" (2600:1f18:0:1ff::/64): IPv6 crosses the internet gateway untranslated, so the addresses must be distinct`}},
		{"client ipv6 is not ipv6", app6Endpoint, `      ipv6: "198.51.100.11"`, []string{
			`internet.hosts.client: ipv6 198.51.100.11 is not an IPv6 address`}},
		{"client link-local", app6Endpoint, `      ipv6: "fe80::1"`, []string{
			`internet.hosts.client: ipv6 fe80::1 is not a global IPv6 unicast address (e.g. 2001:db8:1::10)`}},
		{"gateway outside the /64", app6Endpoint, clientV6 + "\n      ipv6_gateway: \"2001:db8:2::1\"", []string{
			`internet.hosts.client: ipv6_gateway 2001:db8:2::1 is not a host address of 2001:db8:1::/64`}},
	}
	for _, c := range tests {
		t.Run(c.name, func(t *testing.T) {
			f, err := topology.Parse(dualstackYAML(c.app6, c.client), "test.yaml")
			if err != nil {
				t.Fatal(err)
			}
			ds := topology.Validate(f)
			got := ds.Errors()
			if len(got) == 0 {
				got = ds.Warnings()
			}
			var msgs []string
			for _, d := range got {
				msgs = append(msgs, d.String())
			}
			if diff := cmp.Diff(c.want, msgs); diff != "" {
				t.Fatalf("findings (-want +got):\n%s", diff)
			}
		})
	}
	// The pinned address must be in the subnet.
	bad := strings.Replace(string(dualstackYAML(app6Endpoint, clientV6)), "2600:1f18:0:101::beef", "2600:1f18:0:102::beef", 1)
	f, err := topology.Parse([]byte(bad), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if errs := topology.Validate(f).Errors(); len(errs) != 1 || !strings.Contains(errs[0].Message, `ipv6_address 2600:1f18:0:102::beef is outside subnet "app"`) {
		t.Fatalf("errors %v", errs)
	}
}
