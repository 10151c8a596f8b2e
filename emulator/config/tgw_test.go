package config

import (
	"net/netip"
	"strings"
	"testing"
)

func tgwSnapshot() *Snapshot {
	pf := netip.MustParsePrefix
	ad := netip.MustParseAddr
	vpc := func(name, cidr, sub, az string) VPC {
		c := pf(cidr)
		return VPC{Name: name, CIDRs: []netip.Prefix{c},
			Subnets:     []Subnet{{Name: sub, AZ: az, CIDR: c, RouteTable: "rt", Router: c.Addr().Next()}},
			RouteTables: []RouteTable{{Name: "rt", Routes: []Route{{Destination: pf("0.0.0.0/0"), Kind: TargetTGW, Target: "tgw"}}}}}
	}
	return &Snapshot{Version: Version, Lab: "x", TimeScale: 1,
		VPCs: []VPC{vpc("a", "10.1.0.0/24", "s", "az1"), vpc("b", "10.2.0.0/24", "s", "az1")},
		TransitGateways: []TransitGateway{{Name: "tgw",
			Attachments: []TGWAttachment{
				{Name: "att-a", VPC: "a", RouteTable: "rt", ENIs: []TGWENI{{Subnet: "s", AZ: "az1", IP: ad("10.1.0.4")}}},
				{Name: "att-b", VPC: "b", RouteTable: "rt", ENIs: []TGWENI{{Subnet: "s", AZ: "az1", IP: ad("10.2.0.4")}}},
			},
			RouteTables: []TGWRouteTable{{Name: "rt", Routes: []TGWRoute{
				{Destination: pf("10.1.0.0/24"), Attachment: "att-a", Propagated: true},
				{Destination: pf("10.2.0.0/24"), Attachment: "att-b", Propagated: true},
				{Destination: pf("0.0.0.0/0"), Blackhole: true},
			}}},
		}},
	}
}

func TestValidateTGW(t *testing.T) {
	if err := tgwSnapshot().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		says   string
		mutate func(s *Snapshot)
	}{
		{`vpc "nope" is not defined`, func(s *Snapshot) { s.TransitGateways[0].Attachments[1].VPC = "nope" }},
		{`vpc "a" has another attachment`, func(s *Snapshot) { s.TransitGateways[0].Attachments[1].VPC = "a" }},
		{`route table "rt9" is not defined`, func(s *Snapshot) { s.TransitGateways[0].Attachments[0].RouteTable = "rt9" }},
		{`subnet "s9" is not defined`, func(s *Snapshot) { s.TransitGateways[0].Attachments[0].ENIs[0].Subnet = "s9" }},
		{`must be in its AZ`, func(s *Snapshot) { s.TransitGateways[0].Attachments[0].ENIs[0].IP = netip.MustParseAddr("10.9.0.4") }},
		{`attachment "att-z" is not defined`, func(s *Snapshot) { s.TransitGateways[0].RouteTables[0].Routes[0].Attachment = "att-z" }},
		{`exactly one of an attachment and blackhole`, func(s *Snapshot) { s.TransitGateways[0].RouteTables[0].Routes[2].Attachment = "att-a" }},
		{`transit gateway "tgw" is not defined or has no attachment`, func(s *Snapshot) {
			s.TransitGateways[0].Attachments = s.TransitGateways[0].Attachments[:1]
			s.TransitGateways[0].RouteTables = nil
		}},
	} {
		s := tgwSnapshot()
		c.mutate(s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("want an error saying %q, got %v", c.says, err)
		}
	}
}
