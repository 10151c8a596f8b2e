package topology

import (
	"cmp"
	"net/netip"
	"slices"
)

// transitGateways resolves the transit gateways, sorted by name.
func (r *resolver) transitGateways() []TransitGateway {
	c := r.c
	out := []TransitGateway{}
	for _, tn := range sorted(c.t.TransitGateways) {
		t := c.tgws[tn]
		spec := c.t.TransitGateways[tn]
		id, _ := awsID("tgw", r.lab, "transit-gateway", tn)
		rt := TransitGateway{
			Name: tn, ID: id,
			DefaultAssociationRouteTable: spec.DefaultAssociationRouteTable,
			DefaultPropagationRouteTable: spec.DefaultPropagationRouteTable,
			Attachments:                  []TGWAttachment{},
			RouteTables:                  []TGWRouteTable{},
		}
		for _, an := range sorted(t.atts) {
			a := t.atts[an]
			aid, _ := awsID("tgw-attach", r.lab, "tgw-attachment", an)
			ra := TGWAttachment{Name: an, ID: aid, VPC: a.vpc, ApplianceModeSupport: a.appliance, RouteTable: a.table,
				Propagations: append([]string{}, a.propagations...), ENIs: []TGWENI{}}
			for _, e := range a.enis {
				ra.ENIs = append(ra.ENIs, TGWENI{Subnet: e.subnet, AZ: c.vpcs[a.vpc].subnets[e.subnet].az, Addr: e.addr, Addr6: e.addr6})
			}
			slices.SortFunc(ra.ENIs, func(x, y TGWENI) int { return cmp.Compare(x.AZ, y.AZ) })
			rt.Attachments = append(rt.Attachments, ra)
		}
		for _, rn := range sorted(t.tables) {
			tt := t.tables[rn]
			tid, _ := awsID("tgw-rtb", r.lab, "tgw-route-table", tn+"/"+rn)
			rr := TGWRouteTable{Name: rn, ID: tid, Associations: append([]string{}, tt.associations...),
				Propagations: append([]string{}, tt.propagations...), Routes: []TGWRoute{}}
			for _, ri := range tt.routes {
				rr.Routes = append(rr.Routes, TGWRoute{Destination: ri.dst, Attachment: ri.att, Blackhole: ri.blackhole})
			}
			for _, an := range tt.propagations {
				v := c.vpcs[t.atts[an].vpc]
				for _, block := range []netip.Prefix{v.cidr, v.v6} {
					if block.IsValid() {
						rr.Routes = append(rr.Routes, TGWRoute{Destination: block, Attachment: an, Propagated: true})
					}
				}
			}
			rt.RouteTables = append(rt.RouteTables, rr)
		}
		out = append(out, rt)
	}
	return out
}
