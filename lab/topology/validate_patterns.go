package topology

import (
	"fmt"
	"net/netip"
)

// Routing patterns that the lab builds although they cannot work on AWS
// (spec §6.3, §6.4, §6.6). They are warnings: reproducing them is what the
// lab is for.

// defaultRoute is 0.0.0.0/0.
func defaultRoute() netip.Prefix { return netip.PrefixFrom(netip.IPv4Unspecified(), 0) }

func (c *checker) checkRoutingPatterns() {
	for _, vn := range keys(c, "vpcs", c.t.VPCs) {
		v := c.vpcs[vn]
		c.checkEndpointSubnets(v)
		c.checkEndpointLoops(v)
		c.checkEdgeRoutes(v)
		c.checkNATGateways(v)
		c.checkForwarders(v)
		c.checkDualstackDefaults(v)
	}
}

// subnets returns the VPC's subnets in file order.
func (c *checker) subnets(v *vpcInfo) []*subnetInfo {
	var out []*subnetInfo
	for _, n := range keys(c, childPath(v.path, "subnets"), v.subnets) {
		out = append(out, v.subnets[n])
	}
	return out
}

// defaultVia returns the endpoint or gateway a subnet's 0.0.0.0/0 goes to.
func (c *checker) defaultVia(v *vpcInfo, s *subnetInfo) (routeInfo, bool) {
	r, ok := c.route(v, s.table, defaultRoute())
	if !ok || r.dst != defaultRoute() {
		return routeInfo{}, false
	}
	return r, true
}

// endpointSubnet returns the subnet of endpoint name, if valid.
func (c *checker) eniSubnet(v *vpcInfo, name string) *subnetInfo {
	e := c.enis[name]
	if e == nil || e.vpc != v.name || e.subnet == "" {
		return nil
	}
	return v.subnets[e.subnet]
}

// checkEndpointSubnets: an endpoint whose own subnet routes to it (spec §6.3).
func (c *checker) checkEndpointSubnets(v *vpcInfo) {
	for _, n := range keys(c, childPath(v.path, "gwlb_endpoints"), c.t.VPCs[v.name].GWLBEndpoints) {
		s := c.eniSubnet(v, n)
		if s == nil || s.table == "" {
			continue
		}
		var workloads []string
		for _, e := range s.enis {
			if e.kind == kindInst {
				workloads = append(workloads, e.name)
			}
		}
		for _, r := range v.tables[s.table].routes {
			if r.kind != TargetEndpoint || r.target != n || !r.dst.IsValid() {
				continue
			}
			if len(workloads) > 0 {
				c.warnf("§6.3", c.enis[n].path, "subnet", "endpoint shares subnet %q with %s, whose route table %q sends %s to it: same-subnet traffic is delivered at L2 without inspection, and inspected traffic loops back into the endpoint", s.name, describe(kindInst, workloads[0]), s.table, r.dst)
			} else {
				c.warnf("§6.3", c.enis[n].path, "subnet", "the route table %q of the endpoint's own subnet %q sends %s back to it: inspected traffic loops into the endpoint", s.table, s.name, r.dst)
			}
			break
		}
	}
}

// checkEdgeRoutes: subnets inspected on the way out but not on the way in
// (spec §6.6 #1), and edge routes through another zone's endpoint (§6.6 #2).
func (c *checker) checkEdgeRoutes(v *vpcInfo) {
	if v.igw == "" {
		return
	}
	for _, s := range c.subnets(v) {
		r, ok := c.defaultVia(v, s)
		if !ok || r.kind != TargetEndpoint || !s.cidr.IsValid() {
			continue
		}
		es := c.eniSubnet(v, r.target)
		if es == nil {
			continue
		}
		if next, ok := c.defaultVia(v, es); !ok || next.kind != TargetInternetGateway {
			continue
		}
		var why string
		if v.edgeTable == "" {
			why = "the gateway has no edge route table"
		} else if back, ok := c.route(v, v.edgeTable, s.cidr); !ok || back.kind != TargetEndpoint {
			why = fmt.Sprintf("its edge route table %q has no route for %s through a GWLB endpoint", v.edgeTable, s.cidr)
		}
		if why != "" {
			c.warnf("§6.6 #1", s.path, "", "subnet sends 0.0.0.0/0 through endpoint %q to internet gateway %q, but %s: inbound traffic bypasses inspection and GWLB drops the replies of flows it never saw", r.target, v.igw, why)
		}
	}
	if v.edgeTable == "" {
		return
	}
	for _, r := range v.tables[v.edgeTable].routes {
		if r.kind != TargetEndpoint || !r.dst.IsValid() {
			continue
		}
		es := c.eniSubnet(v, r.target)
		if es == nil {
			continue
		}
		for _, s := range c.subnets(v) {
			if (s.cidr == r.dst || s.v6 == r.dst) && s.az != es.az {
				c.warnf("§6.6 #2", r.path, "target", "subnet %q is in az %q but its edge route goes through endpoint %q in az %q: its outbound and inbound traffic reach different GWLB nodes, whose flow tables do not share state", s.name, s.az, r.target, es.az)
			}
		}
	}
}

// checkNATGateways: NAT gateways that cannot reach the internet (spec §6.4), or
// whose return traffic skips the endpoint that inspected the flow (spec
// §6.4, §6.6 #7).
func (c *checker) checkNATGateways(v *vpcInfo) {
	if v.igw == "" {
		return
	}
	for _, n := range keys(c, childPath(v.path, "nat_gateways"), c.t.VPCs[v.name].NATGateways) {
		ns := c.eniSubnet(v, n)
		if ns == nil || ns.table == "" {
			continue
		}
		if r, ok := c.defaultVia(v, ns); !ok || r.kind != TargetInternetGateway {
			c.warnf("§6.4", c.enis[n].path, "subnet", "the route table %q of its subnet %q has no 0.0.0.0/0 route to internet gateway %q: translated traffic cannot reach the internet", ns.table, ns.name, v.igw)
			continue
		}
		for _, s := range c.subnets(v) {
			r, ok := c.defaultVia(v, s)
			if !ok || r.kind != TargetEndpoint || !s.cidr.IsValid() {
				continue
			}
			es := c.eniSubnet(v, r.target)
			if es == nil {
				continue
			}
			if next, ok := c.defaultVia(v, es); !ok || next.kind != TargetNATGateway || next.target != n {
				continue
			}
			for _, src := range c.natSources(v, s) {
				if back, ok := c.route(v, ns.table, src.block); ok && back.kind != TargetEndpoint {
					c.warnf("§6.4, §6.6 #7", c.enis[n].path, "", "return traffic to %s takes the %s route of route table %q and skips endpoint %q: the appliance sees one direction only (route %s, or %s, through the endpoint)", src.what, back.target, ns.table, r.target, src.block, src.wider)
				}
			}
		}
	}
}

// natSource is a block whose traffic a subnet sends towards a NAT gateway.
type natSource struct {
	what  string       // for messages: `subnet "app" (10.0.1.0/24)`, `vpc "spoke-a" (10.1.0.0/16, behind transit gateway "tgw-1")`
	block netip.Prefix // the block the NAT gateway's answers go back to
	wider string       // the wider route that would do as well
}

// natSources returns the blocks whose traffic subnet s (of vpc v) sends on:
// its own, unless nothing but transit gateway attachments sits in it, and
// those of the other VPCs attached to a transit gateway with an attachment
// in s, whose traffic the gateway delivers there (spec §6.5).
func (c *checker) natSources(v *vpcInfo, s *subnetInfo) []natSource {
	var out []natSource
	onlyTGW := len(s.enis) > 0
	seen := map[string]bool{}
	for _, e := range s.enis {
		if e.kind != kindTGWAtt {
			onlyTGW = false
			continue
		}
		for _, tn := range keys(c, "transit_gateways", c.t.TransitGateways) {
			t := c.tgws[tn]
			if t == nil || t.byVPC[v.name] != e.name {
				continue
			}
			for _, an := range t.attOrder {
				o := c.vpcs[t.atts[an].vpc]
				if o == nil || o.name == v.name || !o.cidr.IsValid() || seen[o.name] {
					continue
				}
				seen[o.name] = true
				out = append(out, natSource{
					what:  fmt.Sprintf("vpc %q (%s, behind transit gateway %q)", o.name, o.cidr, tn),
					block: o.cidr,
					wider: "a prefix holding it",
				})
			}
		}
	}
	if !onlyTGW {
		out = append([]natSource{{what: fmt.Sprintf("subnet %q (%s)", s.name, s.cidr), block: s.cidr, wider: "the vpc cidr"}}, out...)
	}
	return out
}

// checkForwarders: instances that are route targets but keep EC2's
// source/destination check (spec §6.6 #13).
func (c *checker) checkForwarders(v *vpcInfo) {
	for _, n := range keys(c, childPath(v.path, "instances"), c.t.VPCs[v.name].Instances) {
		e := c.enis[n]
		if e == nil || !e.sdc {
			continue
		}
	tables:
		for _, tn := range keys(c, childPath(v.path, "route_tables"), v.tables) {
			for _, r := range v.tables[tn].routes {
				if r.kind == TargetInstance && r.target == n {
					c.warnf("§6.6 #13", e.path, "", "instance is the target of %s but keeps source_dest_check enabled: EC2 drops the packets it forwards (set source_dest_check: false)", r.path)
					break tables
				}
			}
		}
	}
}
