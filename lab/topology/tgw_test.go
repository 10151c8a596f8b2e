package topology_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

func TestResolveTransitGatewayDefaults(t *testing.T) {
	l := resolveBytes(t, []byte(`
vpcs:
  a:
    cidr: 10.1.0.0/16
    subnets:
      a1: {az: az1, cidr: 10.1.1.0/24, route_table: rt}
    route_tables:
      rt:
        routes:
          - {destination: 0.0.0.0/0, target: tgw-1}
    instances:
      web: {subnet: a1}
  b:
    cidr: 10.2.0.0/16
    subnets:
      b1: {az: az1, cidr: 10.2.1.0/24, route_table: rt}
      b2: {az: az2, cidr: 10.2.2.0/24, route_table: rt}
    route_tables:
      rt:
        routes:
          - {destination: 0.0.0.0/0, target: tgw-1}
transit_gateways:
  tgw-1:
    default_association_route_table: main
    default_propagation_route_table: main
    attachments:
      att-a: {vpc: a, subnets: [a1]}
      att-b: {vpc: b, subnets: [b2, b1], appliance_mode_support: true}
    route_tables:
      main:
        routes:
          - {destination: 10.2.0.0/16, target: blackhole}
      special:
        associations: [att-b]
`), "t")
	tg, ok := l.TransitGateway("tgw-1")
	if !ok {
		t.Fatal("no transit gateway tgw-1")
	}
	pf, ad := netip.MustParsePrefix, netip.MustParseAddr
	want := []topology.TGWAttachment{
		{Name: "att-a", VPC: "a", RouteTable: "main", Propagations: []string{"main"},
			ENIs: []topology.TGWENI{{Subnet: "a1", AZ: "az1", Addr: ad("10.1.1.5")}}}, // after web's .4
		{Name: "att-b", VPC: "b", ApplianceModeSupport: true, RouteTable: "special", Propagations: []string{"main"},
			ENIs: []topology.TGWENI{{Subnet: "b1", AZ: "az1", Addr: ad("10.2.1.4")}, {Subnet: "b2", AZ: "az2", Addr: ad("10.2.2.4")}}},
	}
	for i := range tg.Attachments {
		tg.Attachments[i].ID = ""
	}
	if diff := cmp.Diff(want, tg.Attachments, netipOpts()); diff != "" {
		t.Errorf("attachments (-want +got):\n%s", diff)
	}
	main := tg.RouteTables[0]
	wantRoutes := []topology.TGWRoute{
		{Destination: pf("10.2.0.0/16"), Blackhole: true},
		{Destination: pf("10.1.0.0/16"), Attachment: "att-a", Propagated: true},
		{Destination: pf("10.2.0.0/16"), Attachment: "att-b", Propagated: true},
	}
	if main.Name != "main" || !cmp.Equal(main.Associations, []string{"att-a"}) || !cmp.Equal(main.Propagations, []string{"att-a", "att-b"}) {
		t.Errorf("table main: %+v", main)
	}
	if diff := cmp.Diff(wantRoutes, main.Routes, netipOpts()); diff != "" {
		t.Errorf("routes of main (-want +got):\n%s", diff)
	}
	if r := l.VPCs[0].RouteTables[0].Routes[1]; r.Target.Kind != topology.TargetTransitGateway || r.Target.Name != "tgw-1" {
		t.Errorf("vpc a's route to the transit gateway: %+v", r)
	}
}

// An attachment's interface in a dualstack subnet gets an IPv6 address as
// other ENIs do (the subnet's prefix plus its IPv4 host number), one in an
// IPv4-only subnet none; the VPC's IPv6 block propagates, and IPv6 routes
// may target the gateway.
func TestResolveTransitGatewayIPv6(t *testing.T) {
	l := resolveBytes(t, []byte(`
vpcs:
  a:
    cidr: 10.1.0.0/16
    ipv6_cidr: 2600:1f18:0:100::/56
    subnets:
      a1: {az: az1, cidr: 10.1.1.0/24, ipv6_cidr: 2600:1f18:0:101::/64, route_table: rt}
      a2: {az: az2, cidr: 10.1.2.0/24, route_table: rt}
    route_tables:
      rt:
        routes:
          - {destination: 0.0.0.0/0, target: tgw-1}
          - {destination: "::/0", target: tgw-1}
    instances:
      web: {subnet: a1}
  b:
    cidr: 10.2.0.0/16
    subnets:
      b1: {az: az1, cidr: 10.2.1.0/24, route_table: rt}
    route_tables:
      rt:
        routes:
          - {destination: 0.0.0.0/0, target: tgw-1}
transit_gateways:
  tgw-1:
    default_association_route_table: main
    default_propagation_route_table: main
    attachments:
      att-a: {vpc: a, subnets: [a1, a2]}
      att-b: {vpc: b, subnets: [b1]}
    route_tables:
      main: {}
`), "t")
	tg, _ := l.TransitGateway("tgw-1")
	ad, pf := netip.MustParseAddr, netip.MustParsePrefix
	want := []topology.TGWENI{
		{Subnet: "a1", AZ: "az1", Addr: ad("10.1.1.5"), Addr6: ad("2600:1f18:0:101::5")}, // after web's .4 and ::4
		{Subnet: "a2", AZ: "az2", Addr: ad("10.1.2.4")},
	}
	if diff := cmp.Diff(want, tg.Attachments[0].ENIs, netipOpts()); diff != "" {
		t.Errorf("att-a's interfaces (-want +got):\n%s", diff)
	}
	if web, _ := l.Node("web"); web.Interface.Addr6.Addr() != ad("2600:1f18:0:101::4") {
		t.Errorf("web's IPv6 address %s", web.Interface.Addr6)
	}
	wantRoutes := []topology.TGWRoute{
		{Destination: pf("10.1.0.0/16"), Attachment: "att-a", Propagated: true},
		{Destination: pf("2600:1f18:0:100::/56"), Attachment: "att-a", Propagated: true},
		{Destination: pf("10.2.0.0/16"), Attachment: "att-b", Propagated: true},
	}
	if diff := cmp.Diff(wantRoutes, tg.RouteTables[0].Routes, netipOpts()); diff != "" {
		t.Errorf("routes of main (-want +got):\n%s", diff)
	}
}
