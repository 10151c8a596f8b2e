package config

import (
	"fmt"
	"net/netip"
	"slices"
)

// TargetTGW is the route target kind of a transit gateway (Route.Target
// names it).
const TargetTGW = "tgw"

// TransitGateway is an AWS Transit Gateway: a router between VPCs, reached
// through one attachment per VPC (spec §6.5).
type TransitGateway struct {
	Name        string          `json:"name"`
	Attachments []TGWAttachment `json:"attachments"`
	RouteTables []TGWRouteTable `json:"route_tables"`
}

// TGWAttachment is a VPC attachment: an ENI in each of its subnets (one
// subnet per AZ), and the TGW route table it is associated with.
type TGWAttachment struct {
	Name string `json:"name"`
	VPC  string `json:"vpc"`
	// RouteTable is the associated TGW route table; empty: none (traffic
	// entering through the attachment is dropped as tgw_no_route).
	RouteTable string `json:"route_table,omitempty"`
	// ApplianceMode is ApplianceModeSupport: traffic the TGW sends to the
	// attachment takes one AZ per flow, by a symmetric flow hash.
	ApplianceMode bool     `json:"appliance_mode"`
	ENIs          []TGWENI `json:"enis"`
}

// TGWENI is an attachment's network interface in one subnet.
type TGWENI struct {
	Subnet string     `json:"subnet"`
	AZ     string     `json:"az"`
	IP     netip.Addr `json:"ip"`
	// IP6 is its IPv6 address in a dualstack subnet; zero otherwise.
	IP6 netip.Addr `json:"ip6,omitzero"`
}

// TGWRouteTable is a transit gateway route table: static routes and the
// routes propagated from attachments (their VPC CIDRs).
type TGWRouteTable struct {
	Name   string     `json:"name"`
	Routes []TGWRoute `json:"routes"`
}

// TGWRoute sends Destination to Attachment, or drops it (Blackhole).
// Propagated routes come from an attachment's VPC; on an equal prefix a
// static route wins.
type TGWRoute struct {
	Destination netip.Prefix `json:"destination"`
	Attachment  string       `json:"attachment,omitempty"`
	Blackhole   bool         `json:"blackhole,omitempty"`
	Propagated  bool         `json:"propagated,omitempty"`
}

// validateTGWs checks the transit gateways against the VPCs: attachments
// name VPCs and subnets that exist, one attachment per VPC and gateway, one
// subnet per AZ, and routes name attachments of the same gateway.
func (s *Snapshot) validateTGWs(bad func(string, ...any)) {
	vpcs := map[string]VPC{}
	for _, v := range s.VPCs {
		vpcs[v.Name] = v
	}
	names := map[string]bool{}
	for _, t := range s.TransitGateways {
		if names[t.Name] {
			bad("transit gateway %q appears twice", t.Name)
		}
		names[t.Name] = true
		tables := map[string]bool{}
		for _, rt := range t.RouteTables {
			tables[rt.Name] = true
		}
		atts := map[string]bool{}
		attached := map[string]bool{}
		for _, a := range t.Attachments {
			where := fmt.Sprintf("transit gateway %q attachment %q", t.Name, a.Name)
			atts[a.Name] = true
			v, ok := vpcs[a.VPC]
			if !ok {
				bad("%s: vpc %q is not defined", where, a.VPC)
				continue
			}
			if attached[a.VPC] {
				bad("%s: vpc %q has another attachment to the same transit gateway", where, a.VPC)
			}
			attached[a.VPC] = true
			if a.RouteTable != "" && !tables[a.RouteTable] {
				bad("%s: route table %q is not defined", where, a.RouteTable)
			}
			if len(a.ENIs) == 0 {
				bad("%s: has no subnet", where)
			}
			azs := map[string]bool{}
			for _, e := range a.ENIs {
				i := slices.IndexFunc(v.Subnets, func(sn Subnet) bool { return sn.Name == e.Subnet })
				if i < 0 {
					bad("%s: subnet %q is not defined in vpc %q", where, e.Subnet, a.VPC)
					continue
				}
				if sn := v.Subnets[i]; sn.AZ != e.AZ || !sn.CIDR.Contains(e.IP) {
					bad("%s: interface %s in subnet %q must be in its AZ %q and CIDR %s", where, e.IP, e.Subnet, sn.AZ, sn.CIDR)
				}
				if sn := v.Subnets[i]; e.IP6.IsValid() && !(e.IP6.Is6() && sn.IPv6CIDR.IsValid() && sn.IPv6CIDR.Contains(e.IP6)) {
					bad("%s: interface %s in subnet %q must be an IPv6 address in the subnet's IPv6 CIDR", where, e.IP6, e.Subnet)
				}
				if azs[e.AZ] {
					bad("%s: two subnets in AZ %q", where, e.AZ)
				}
				azs[e.AZ] = true
			}
		}
		for _, rt := range t.RouteTables {
			for i, r := range rt.Routes {
				where := fmt.Sprintf("transit gateway %q route table %q route %d", t.Name, rt.Name, i)
				if !r.Destination.IsValid() {
					bad("%s: invalid destination", where)
				}
				if r.Blackhole == (r.Attachment != "") {
					bad("%s: needs exactly one of an attachment and blackhole", where)
				} else if !r.Blackhole && !atts[r.Attachment] {
					bad("%s: attachment %q is not defined", where, r.Attachment)
				}
			}
		}
	}
	for _, v := range s.VPCs {
		for _, rt := range v.RouteTables {
			for i, r := range rt.Routes {
				if r.Kind != TargetTGW {
					continue
				}
				t := slices.IndexFunc(s.TransitGateways, func(t TransitGateway) bool { return t.Name == r.Target })
				if t < 0 || !slices.ContainsFunc(s.TransitGateways[t].Attachments, func(a TGWAttachment) bool { return a.VPC == v.Name }) {
					bad("vpc %q route table %q route %d: transit gateway %q is not defined or has no attachment in the vpc", v.Name, rt.Name, i, r.Target)
				}
			}
		}
	}
}
