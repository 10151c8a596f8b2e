package topology

import "net/netip"

// Route table rules (spec §6.2).

// targetKindOf returns the route target kind of an object kind.
func targetKindOf(k objKind) (TargetKind, bool) {
	switch k {
	case kindIGW:
		return TargetInternetGateway, true
	case kindNAT:
		return TargetNATGateway, true
	case kindGWLBE:
		return TargetEndpoint, true
	case kindInst:
		return TargetInstance, true
	case kindTGW:
		return TargetTransitGateway, true
	}
	return "", false
}

func (c *checker) checkRouteTables() {
	for _, vn := range keys(c, "vpcs", c.t.VPCs) {
		v := c.vpcs[vn]
		spec := c.t.VPCs[vn]
		for _, tn := range keys(c, childPath(v.path, "route_tables"), spec.RouteTables) {
			t := v.tables[tn]
			rp := childPath(t.path, "routes")
			for i, r := range spec.RouteTables[tn].Routes {
				ri := routeInfo{path: indexPath(rp, i), target: r.Target}
				ri.dst = c.parsePrefix(ri.path, "destination", "destination", r.Destination)
				ri.kind = c.routeTarget(v, ri.path, r.Target)
				c.checkRoute(v, t, &ri)
				t.routes = append(t.routes, ri)
			}
		}
	}
}

// routeTarget resolves a route's target to its kind; "" when invalid.
func (c *checker) routeTarget(v *vpcInfo, path, target string) TargetKind {
	switch target {
	case "":
		c.errorf(path, "target", "target is required")
		return ""
	case string(TargetLocal):
		return TargetLocal
	case string(TargetBlackhole):
		return TargetBlackhole
	}
	o, ok := c.objects[target]
	if !ok {
		c.errorf(path, "target", "target %q is not defined", target)
		return ""
	}
	kind, ok := targetKindOf(o.kind)
	if !ok {
		c.errorf(path, "target", "target %q is %s, which cannot be a route target (use local, blackhole, an internet gateway, a NAT gateway, a GWLB endpoint, an instance or a transit gateway)", target, article(o.kind))
		return ""
	}
	if kind == TargetTransitGateway {
		if !c.tgwTarget(v, path, target) {
			return ""
		}
		return kind
	}
	if o.vpc != v.name {
		c.errorf(path, "target", "target %q is %s of vpc %q, not of vpc %q", target, article(o.kind), o.vpc, v.name)
		return ""
	}
	return kind
}

// checkRoute checks one route against the table's earlier routes and the
// rules of local, more-specific and gateway routes.
func (c *checker) checkRoute(v *vpcInfo, t *tableInfo, r *routeInfo) {
	if !r.dst.IsValid() {
		return
	}
	for j, prev := range t.routes {
		if prev.dst == r.dst {
			c.errorf(r.path, "destination", "destination %s is already routed by routes[%d]", r.dst, j)
			r.dst = netip.Prefix{}
			return
		}
	}
	block := v.cidr
	if r.dst.Addr().Is6() {
		if !v.v6.IsValid() {
			c.errorf(r.path, "destination", "destination %s is IPv6 but vpc %q has no ipv6_cidr", r.dst, v.name)
			r.dst = netip.Prefix{}
			return
		}
		block = v.v6
	}
	if !block.IsValid() || r.kind == "" {
		return
	}
	isLocal := r.dst == block
	inside := within(r.dst, block)
	if r.kind == TargetLocal && !isLocal {
		c.errorf(r.path, "target", "target local only routes the vpc's own cidr %s", block)
		return
	}
	if t.edge != "" {
		if !inside {
			c.specErrorf("§6.2", r.path, "destination", "destination %s is outside vpc cidr %s: a gateway route table only routes traffic into the vpc", r.dst, block)
			return
		}
		switch r.kind {
		case TargetLocal, TargetEndpoint, TargetInstance, TargetBlackhole:
		default:
			c.specErrorf("§6.2", r.path, "target", "target %q is %s: a gateway route table can only target local, a GWLB endpoint or an instance", r.target, targetKindName(r.kind))
			return
		}
	}
	switch {
	case isLocal:
		if r.kind == TargetInternetGateway || r.kind == TargetBlackhole || r.kind == TargetTransitGateway {
			c.specErrorf("§6.2", r.path, "target", "the vpc cidr %s can only be routed to local, a NAT gateway, a GWLB endpoint or an instance", block)
		}
	case inside:
		if r.kind == TargetInternetGateway || r.kind == TargetTransitGateway {
			c.specErrorf("§6.2", r.path, "target", "a route more specific than the vpc cidr %s must target a NAT gateway, a GWLB endpoint or an instance", block)
			return
		}
		if !c.isSubnetCIDR(v, r.dst) {
			c.specErrorf("§6.2", r.path, "destination", "destination %s is more specific than vpc cidr %s and must equal a whole subnet cidr", r.dst, block)
		}
	}
}

func targetKindName(k TargetKind) string {
	switch k {
	case TargetInternetGateway:
		return "an internet gateway"
	case TargetNATGateway:
		return "a NAT gateway"
	case TargetEndpoint:
		return "a GWLB endpoint"
	case TargetInstance:
		return "an instance"
	case TargetTransitGateway:
		return "a transit gateway"
	default:
		return string(k)
	}
}

// isSubnetCIDR reports whether p is the IPv4 or IPv6 block of a subnet of v.
func (c *checker) isSubnetCIDR(v *vpcInfo, p netip.Prefix) bool {
	for _, s := range v.subnets {
		if s.cidr == p || (s.v6.IsValid() && s.v6 == p) {
			return true
		}
	}
	return false
}

// route returns the route of a table that longest-prefix-matches dst,
// counting the implicit local routes unless the table replaced them.
func (c *checker) route(v *vpcInfo, table string, dst netip.Prefix) (routeInfo, bool) {
	t := v.tables[table]
	if t == nil || !dst.IsValid() {
		return routeInfo{}, false
	}
	candidates := t.routes
	for _, block := range []netip.Prefix{v.cidr, v.v6} {
		if !block.IsValid() {
			continue
		}
		replaced := false
		for _, r := range t.routes {
			replaced = replaced || r.dst == block
		}
		if !replaced {
			candidates = append(candidates[:len(candidates):len(candidates)], routeInfo{dst: block, target: string(TargetLocal), kind: TargetLocal})
		}
	}
	var best routeInfo
	found := false
	for _, r := range candidates {
		if r.kind == "" || !within(dst, r.dst) {
			continue
		}
		if !found || r.dst.Bits() > best.dst.Bits() {
			best, found = r, true
		}
	}
	return best, found
}
