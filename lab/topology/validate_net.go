package topology

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"
)

// Address rules: VPCs, subnets, ENI addresses, public addresses and the
// internet's segments.

// parsePrefix parses a canonical prefix written in field (what names it in
// messages); it reports a problem and returns an invalid prefix otherwise.
func (c *checker) parsePrefix(path, field, what, s string) netip.Prefix {
	if s == "" {
		c.errorf(path, field, "%s is required", field)
		return netip.Prefix{}
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		if _, aerr := netip.ParseAddr(s); aerr == nil {
			c.errorf(path, field, "%s %q is an address, not a prefix: add a prefix length", what, s)
		} else {
			c.errorf(path, field, "%s %q is not a prefix", what, s)
		}
		return netip.Prefix{}
	}
	if p.Addr().Zone() != "" {
		c.errorf(path, field, "%s %q is not a prefix", what, s)
		return netip.Prefix{}
	}
	if p != p.Masked() {
		c.errorf(path, field, "%s %q is not a prefix: did you mean %s?", what, s, p.Masked())
		return netip.Prefix{}
	}
	return p
}

// parseAddr parses an address written in field; an empty string is
// returned as an invalid address without a finding.
func (c *checker) parseAddr(path, field, s string) netip.Addr {
	return c.parseAddrAs(path, field, field, s)
}

// parseAddrAs is parseAddr with the value named label in messages.
func (c *checker) parseAddrAs(path, field, label, s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		c.errorf(path, field, "%s %q is not an IP address", label, s)
		return netip.Addr{}
	}
	if !a.Is4() {
		c.errorf(path, field, "%s %s is not an IPv4 address", label, a)
		return netip.Addr{}
	}
	return a
}

// parseAddr6 parses an IPv6 address written in field.
func (c *checker) parseAddr6(path, field, s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		c.errorf(path, field, "%s %q is not an IP address", field, s)
		return netip.Addr{}
	}
	if !a.Is6() || a.Is4In6() {
		c.errorf(path, field, "%s %s is not an IPv6 address", field, a)
		return netip.Addr{}
	}
	return a
}

// nonPublic returns the IPv4 blocks that are not public addresses (RFC 6890
// special-purpose blocks, except the documentation ranges the lab's internet
// uses).
func nonPublic() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("224.0.0.0/4"),
		netip.MustParsePrefix("240.0.0.0/4"),
	}
}

// isPublic reports whether a is a public IPv4 address.
func isPublic(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	for _, p := range nonPublic() {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// lastAddr returns the last address of a prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= uint32(uint64(1)<<host - 1)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// reserved reports whether a is one of the five addresses AWS reserves in
// every subnet: the network address, the router (.1), DNS (.2), future use
// (.3) and the last address.
func reserved(subnet netip.Prefix, a netip.Addr) bool {
	first := subnet.Addr()
	for range 4 {
		if a == first {
			return true
		}
		first = first.Next()
	}
	return a == lastAddr(subnet)
}

// usable returns the number of addresses AWS lets ENIs use in a subnet.
func usable(subnet netip.Prefix) int { return 1<<(32-subnet.Bits()) - 5 }

func overlaps(a, b netip.Prefix) bool { return a.IsValid() && b.IsValid() && a.Overlaps(b) }

// within reports whether inner is inside outer.
func within(inner, outer netip.Prefix) bool {
	return inner.IsValid() && outer.IsValid() && outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

func (c *checker) checkInternet() {
	for _, n := range keys(c, "internet.hosts", c.t.Internet.Hosts) {
		spec := c.t.Internet.Hosts[n]
		p := childPath("internet.hosts", n)
		h := &hostInfo{name: n, path: p}
		if spec.IP == "" {
			c.errorf(p, "ip", "ip is required")
			continue
		}
		h.ip = c.parseAddr(p, "ip", spec.IP)
		if !h.ip.IsValid() {
			continue
		}
		if !isPublic(h.ip) {
			c.errorf(p, "ip", "ip %s is not a public address (internet hosts need one)", h.ip)
			continue
		}
		if spec.Segment != "" {
			h.segment = c.parsePrefix(p, "segment", "segment", spec.Segment)
			if !h.segment.IsValid() {
				continue
			}
			if !h.segment.Addr().Is4() || h.segment.Bits() > 30 {
				c.errorf(p, "segment", "segment %s must be an IPv4 prefix of at most /30", h.segment)
				continue
			}
			if !h.segment.Contains(h.ip) {
				c.errorf(p, "segment", "segment %s does not contain ip %s", h.segment, h.ip)
				continue
			}
		} else {
			h.segment = netip.PrefixFrom(h.ip, 24).Masked()
		}
		if h.ip == h.segment.Addr() || h.ip == lastAddr(h.segment) {
			c.errorf(p, "ip", "ip %s is the network or broadcast address of segment %s", h.ip, h.segment)
			continue
		}
		if spec.Gateway != "" {
			h.gateway = c.parseAddr(p, "gateway", spec.Gateway)
			if !h.gateway.IsValid() {
				continue
			}
			if !h.segment.Contains(h.gateway) || h.gateway == h.segment.Addr() || h.gateway == lastAddr(h.segment) {
				c.errorf(p, "gateway", "gateway %s is not a host address of segment %s", h.gateway, h.segment)
				continue
			}
		} else {
			h.gateway = h.segment.Addr().Next()
		}
		if h.gateway == h.ip {
			c.errorf(p, "ip", "ip %s is the segment's gateway; set gateway to another address", h.ip)
			continue
		}
		if !c.joinSegment(h) {
			continue
		}
		c.hosts[n] = h
	}
}

// joinSegment adds a host to its segment, checking it agrees with the
// segments already known.
func (c *checker) joinSegment(h *hostInfo) bool {
	for _, s := range c.segments {
		switch {
		case s.prefix == h.segment:
			if s.gateway != h.gateway {
				c.errorf(h.path, "gateway", "gateway %s differs from %s, the gateway host %q uses on segment %s", h.gateway, s.gateway, s.hosts[0], s.prefix)
				return false
			}
			s.hosts = append(s.hosts, h.name)
			return true
		case s.prefix.Overlaps(h.segment):
			c.errorf(h.path, "segment", "segment %s overlaps segment %s of host %q", h.segment, s.prefix, s.hosts[0])
			return false
		}
	}
	c.segments = append(c.segments, &segmentInfo{prefix: h.segment, gateway: h.gateway, hosts: []string{h.name}})
	return true
}

func (c *checker) checkVPCs() {
	for _, vn := range keys(c, "vpcs", c.t.VPCs) {
		spec := c.t.VPCs[vn]
		vp := childPath("vpcs", vn)
		v := &vpcInfo{name: vn, path: vp, subnets: map[string]*subnetInfo{}, tables: map[string]*tableInfo{}}
		c.vpcs[vn] = v
		if o, ok := c.lookup(spec.InternetGateway, kindIGW); ok && o.vpc == vn {
			v.igw = spec.InternetGateway
		}

		v.cidr = c.parsePrefix(vp, "cidr", "cidr", spec.CIDR)
		if v.cidr.IsValid() && (!v.cidr.Addr().Is4() || v.cidr.Bits() < minVPCPrefixBits || v.cidr.Bits() > maxVPCPrefixBits) {
			c.errorf(vp, "cidr", "cidr %s must be an IPv4 block from /16 to /28", v.cidr)
			v.cidr = netip.Prefix{}
		}
		for _, s := range c.segments {
			if overlaps(v.cidr, s.prefix) {
				c.errorf(vp, "cidr", "cidr %s overlaps internet segment %s of host %q", v.cidr, s.prefix, s.hosts[0])
			}
		}
		if spec.IPv6CIDR != "" {
			v.v6 = c.parsePrefix(vp, "ipv6_cidr", "ipv6_cidr", spec.IPv6CIDR)
			if v.v6.IsValid() && (!v.v6.Addr().Is6() || v.v6.Addr().Is4In6() || v.v6.Bits() < 44 || v.v6.Bits() > 60) {
				c.errorf(vp, "ipv6_cidr", "ipv6_cidr %s must be an IPv6 block from /44 to /60 (AWS assigns a /56)", v.v6)
				v.v6 = netip.Prefix{}
			}
		}

		// Route tables first: subnets name them.
		tp := childPath(vp, "route_tables")
		for _, tn := range keys(c, tp, spec.RouteTables) {
			t := &tableInfo{name: tn, vpc: vn, path: childPath(tp, tn)}
			v.tables[tn] = t
			if e := spec.RouteTables[tn].EdgeAssociation; e != "" {
				o, ok := c.objects[e]
				switch {
				case !ok:
					c.errorf(t.path, "edge_association", "edge_association %q is not defined", e)
				case o.kind != kindIGW || o.vpc != vn:
					c.errorf(t.path, "edge_association", "edge_association %q is not the internet gateway of vpc %q", e, vn)
				case v.edgeTable != "":
					c.errorf(t.path, "edge_association", "internet gateway %q is already associated with route table %q", e, v.edgeTable)
				default:
					t.edge = e
					v.edgeTable = tn
				}
			}
		}

		sp := childPath(vp, "subnets")
		var done []*subnetInfo
		for _, sn := range keys(c, sp, spec.Subnets) {
			ss := spec.Subnets[sn]
			s := &subnetInfo{name: sn, vpc: vn, az: ss.AZ, path: childPath(sp, sn)}
			v.subnets[sn] = s
			if ss.AZ == "" {
				c.errorf(s.path, "az", "az is required")
			}
			s.cidr = c.parsePrefix(s.path, "cidr", "cidr", ss.CIDR)
			switch {
			case !s.cidr.IsValid():
			case !s.cidr.Addr().Is4() || s.cidr.Bits() < minVPCPrefixBits || s.cidr.Bits() > maxVPCPrefixBits:
				c.errorf(s.path, "cidr", "cidr %s must be an IPv4 block from /16 to /28", s.cidr)
				s.cidr = netip.Prefix{}
			case v.cidr.IsValid() && !within(s.cidr, v.cidr):
				c.errorf(s.path, "cidr", "cidr %s is outside vpc cidr %s", s.cidr, v.cidr)
				s.cidr = netip.Prefix{}
			}
			if ss.IPv6CIDR != "" {
				s.v6 = c.parsePrefix(s.path, "ipv6_cidr", "ipv6_cidr", ss.IPv6CIDR)
				switch {
				case !s.v6.IsValid():
				case !v.v6.IsValid():
					c.errorf(s.path, "ipv6_cidr", "ipv6_cidr needs an ipv6_cidr on vpc %q", vn)
					s.v6 = netip.Prefix{}
				case !within(s.v6, v.v6) || s.v6.Bits() > 64:
					c.errorf(s.path, "ipv6_cidr", "ipv6_cidr %s must be inside vpc ipv6_cidr %s and at most /64", s.v6, v.v6)
					s.v6 = netip.Prefix{}
				}
			}
			for _, o := range done {
				if overlaps(s.cidr, o.cidr) {
					c.errorf(s.path, "cidr", "cidr %s overlaps subnet %q (%s)", s.cidr, o.name, o.cidr)
					s.cidr = netip.Prefix{}
					break
				}
				if overlaps(s.v6, o.v6) {
					c.errorf(s.path, "ipv6_cidr", "ipv6_cidr %s overlaps subnet %q (%s)", s.v6, o.name, o.v6)
					s.v6 = netip.Prefix{}
					break
				}
			}
			done = append(done, s)

			switch rt := ss.RouteTable; {
			case rt != "":
				if _, ok := v.tables[rt]; !ok {
					c.errorf(s.path, "route_table", "route table %q is not defined in vpc %q", rt, vn)
				} else {
					s.table = rt
				}
			default:
				if _, ok := v.tables["main"]; ok {
					s.table = "main"
				} else {
					c.errorf(s.path, "", "subnet has no route_table and vpc %q has no route table named main (AWS would use the VPC's main route table: name the subnet's table, or define one named main)", vn)
				}
			}
			if s.table != "" {
				t := v.tables[s.table]
				t.subnets = append(t.subnets, sn)
			}
		}
	}
}

// subnetOf resolves a subnet reference of an object in vpc vn.
func (c *checker) subnetOf(path, vn, name string) *subnetInfo {
	if name == "" {
		c.errorf(path, "subnet", "subnet is required")
		return nil
	}
	v := c.vpcs[vn]
	if v == nil {
		return nil
	}
	s, ok := v.subnets[name]
	if !ok {
		c.errorf(path, "subnet", "subnet %q is not defined in vpc %q", name, vn)
		return nil
	}
	return s
}

// Allocation order of automatic addresses within a subnet.
const (
	allocGWLBNode = iota
	allocNAT
	allocEndpoint
	allocInstance
	allocTGW
)

// checkENIs checks every given private address and allocates the missing
// ones: in each subnet, the lowest free address after the reserved ones,
// GWLB nodes first, then NAT gateways, endpoints and instances, each by name.
func (c *checker) checkENIs() {
	var all []*eniInfo
	for _, vn := range keys(c, "vpcs", c.t.VPCs) {
		spec := c.t.VPCs[vn]
		vp := childPath("vpcs", vn)
		for _, n := range keys(c, childPath(vp, "instances"), spec.Instances) {
			is := spec.Instances[n]
			e := &eniInfo{name: n, kind: kindInst, vpc: vn, path: childPath(childPath(vp, "instances"), n), field: "private_ip", label: "private_ip", given: is.PrivateIP, given6: is.IPv6Address, allocate: allocInstance, sdc: DefaultSourceDestCheck}
			if is.SourceDestCheck != nil {
				e.sdc = *is.SourceDestCheck
			}
			if s := c.subnetOf(e.path, vn, is.Subnet); s != nil {
				e.subnet = s.name
			}
			all = append(all, e)
		}
		for _, n := range keys(c, childPath(vp, "nat_gateways"), spec.NATGateways) {
			ns := spec.NATGateways[n]
			e := &eniInfo{name: n, kind: kindNAT, vpc: vn, path: childPath(childPath(vp, "nat_gateways"), n), field: "private_ip", label: "private_ip", given: ns.PrivateIP, allocate: allocNAT}
			if s := c.subnetOf(e.path, vn, ns.Subnet); s != nil {
				e.subnet = s.name
			}
			all = append(all, e)
		}
		for _, n := range keys(c, childPath(vp, "gwlb_endpoints"), spec.GWLBEndpoints) {
			es := spec.GWLBEndpoints[n]
			e := &eniInfo{name: n, kind: kindGWLBE, vpc: vn, path: childPath(childPath(vp, "gwlb_endpoints"), n), field: "private_ip", label: "private_ip", given: es.PrivateIP, allocate: allocEndpoint, service: es.Service}
			if s := c.subnetOf(e.path, vn, es.Subnet); s != nil {
				e.subnet = s.name
			}
			all = append(all, e)
		}
	}
	for _, n := range keys(c, "gwlbs", c.t.GWLBs) {
		if g := c.gwlbs[n]; g != nil {
			all = append(all, g.nodes...)
		}
	}
	all = append(all, c.tgwENIs()...)
	slices.SortStableFunc(all, func(a, b *eniInfo) int {
		return cmp.Compare(c.f.Line(linePath(a.path, a.field)), c.f.Line(linePath(b.path, b.field)))
	})

	// Given addresses, in file order: the first use of an address wins.
	used := map[string]map[netip.Addr]*eniInfo{} // vpc -> address -> owner
	for _, e := range all {
		if _, dup := c.enis[e.name]; !dup && e.kind != kindNode && e.kind != kindTGWAtt {
			c.enis[e.name] = e // the first of a reused name, as in c.objects
		}
		if e.subnet == "" {
			continue
		}
		s := c.vpcs[e.vpc].subnets[e.subnet]
		s.enis = append(s.enis, e)
		if e.given == "" {
			continue
		}
		a := c.parseAddrAs(e.path, e.field, e.label, e.given)
		if !a.IsValid() || !s.cidr.IsValid() {
			continue
		}
		switch {
		case !s.cidr.Contains(a):
			c.errorf(e.path, e.field, "%s %s is outside subnet %q (%s)", e.label, a, s.name, s.cidr)
		case reserved(s.cidr, a):
			c.errorf(e.path, e.field, "%s %s is reserved by AWS (the first four and the last address of subnet %q, %s)", e.label, a, s.name, s.cidr)
		case used[e.vpc][a] != nil:
			o := used[e.vpc][a]
			c.errorf(e.path, e.field, "%s %s is already used by %s", e.label, a, describe(o.kind, o.name))
		default:
			e.addr = a
			if used[e.vpc] == nil {
				used[e.vpc] = map[netip.Addr]*eniInfo{}
			}
			used[e.vpc][a] = e
		}
	}

	// Missing addresses, per subnet in a fixed order.
	for _, vn := range slices.Sorted(maps.Keys(c.vpcs)) {
		v := c.vpcs[vn]
		for _, sn := range slices.Sorted(maps.Keys(v.subnets)) {
			s := v.subnets[sn]
			if !s.cidr.IsValid() {
				continue
			}
			auto := slices.Clone(s.enis)
			auto = slices.DeleteFunc(auto, func(e *eniInfo) bool { return e.given != "" })
			slices.SortFunc(auto, func(a, b *eniInfo) int {
				return cmp.Or(cmp.Compare(a.allocate, b.allocate), cmp.Compare(a.name, b.name))
			})
			next := s.cidr.Addr().Next().Next().Next().Next()
			last := lastAddr(s.cidr)
			for _, e := range auto {
				for next != last && used[vn][next] != nil {
					next = next.Next()
				}
				if next == last {
					c.errorf(e.path, "subnet", "subnet %q (%s) has no free address left for %s", s.name, s.cidr, describe(e.kind, e.name))
					continue
				}
				e.addr = next
				if used[vn] == nil {
					used[vn] = map[netip.Addr]*eniInfo{}
				}
				used[vn][next] = e
			}
		}
	}

	// A GWLB subnet needs at least 8 free addresses besides the node (spec §1).
	for _, n := range keys(c, "gwlbs", c.t.GWLBs) {
		g := c.gwlbs[n]
		if g == nil {
			continue
		}
		for _, node := range g.nodes {
			if node.subnet == "" {
				continue
			}
			s := c.vpcs[node.vpc].subnets[node.subnet]
			if !s.cidr.IsValid() {
				continue
			}
			if free := usable(s.cidr) - (len(s.enis) - 1); free < minFreeGWLBSubnetAddrs {
				c.specErrorf("§1", node.path, "", "subnet %q (%s) has %d free addresses besides the GWLB node; a GWLB subnet needs at least %d", s.name, s.cidr, free, minFreeGWLBSubnetAddrs)
			}
		}
	}
}

// publicPools returns where NAT gateways without a public_ip get one, in
// order: the documentation ranges, from .100 up, skipping addresses in use
// and pools that overlap an internet segment or a VPC.
func publicPools() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("203.0.113.0/24"),
		netip.MustParsePrefix("192.0.2.0/24"),
		netip.MustParsePrefix("198.51.100.0/24"),
	}
}

// checkPublicIPs checks the public addresses of instances and NAT gateways
// and allocates the missing ones of NAT gateways.
func (c *checker) checkPublicIPs() {
	type claim struct {
		path, field, what string
		addr              netip.Addr
	}
	var claims []claim
	for _, s := range c.segments {
		claims = append(claims, claim{childPath("internet.hosts", s.hosts[0]), "gateway", "the gateway of internet segment " + s.prefix.String(), s.gateway})
	}
	for _, n := range keys(c, "internet.hosts", c.t.Internet.Hosts) {
		if h := c.hosts[n]; h != nil {
			claims = append(claims, claim{h.path, "ip", describe(kindHost, n), h.ip})
		}
	}
	var natAuto []*eniInfo
	var enis []*eniInfo
	for _, e := range c.enis {
		enis = append(enis, e)
	}
	slices.SortFunc(enis, func(a, b *eniInfo) int {
		return cmp.Or(cmp.Compare(c.f.Line(a.path), c.f.Line(b.path)), cmp.Compare(a.name, b.name))
	})
	for _, e := range enis {
		var given string
		switch e.kind {
		case kindInst:
			given = c.t.VPCs[e.vpc].Instances[e.name].PublicIP
		case kindNAT:
			given = c.t.VPCs[e.vpc].NATGateways[e.name].PublicIP
			if c.vpcs[e.vpc].igw == "" {
				c.errorf(e.path, "", "a public NAT gateway needs an internet gateway, and vpc %q has none", e.vpc)
				continue
			}
			if given == "" {
				natAuto = append(natAuto, e)
				continue
			}
		default:
			continue
		}
		if given == "" {
			continue
		}
		a := c.parseAddr(e.path, "public_ip", given)
		if !a.IsValid() {
			continue
		}
		if !isPublic(a) {
			c.errorf(e.path, "public_ip", "public_ip %s is not a public address", a)
			continue
		}
		if c.vpcs[e.vpc].igw == "" {
			c.errorf(e.path, "public_ip", "public_ip needs an internet gateway, and vpc %q has none", e.vpc)
			continue
		}
		bad := false
		for _, vn := range slices.Sorted(maps.Keys(c.vpcs)) {
			if v := c.vpcs[vn]; v.cidr.IsValid() && v.cidr.Contains(a) {
				c.errorf(e.path, "public_ip", "public_ip %s is inside vpc %q (%s)", a, vn, v.cidr)
				bad = true
				break
			}
		}
		for _, s := range c.segments {
			if !bad && s.prefix.Contains(a) {
				c.errorf(e.path, "public_ip", "public_ip %s is inside internet segment %s (of host %q): hosts there would not route it through their gateway", a, s.prefix, s.hosts[0])
				bad = true
			}
		}
		if !bad {
			claims = append(claims, claim{e.path, "public_ip", describe(e.kind, e.name), a})
			e.public = a
		}
	}
	slices.SortStableFunc(claims, func(a, b claim) int {
		return cmp.Compare(c.f.Line(linePath(a.path, a.field)), c.f.Line(linePath(b.path, b.field)))
	})
	owner := map[netip.Addr]string{}
	for _, cl := range claims {
		if prev, dup := owner[cl.addr]; dup {
			c.errorf(cl.path, cl.field, "%s %s is already used by %s", cl.field, cl.addr, prev)
			continue
		}
		owner[cl.addr] = cl.what
	}
	c.publicIPs = owner

	slices.SortFunc(natAuto, func(a, b *eniInfo) int { return cmp.Compare(a.name, b.name) })
	for _, e := range natAuto {
		if a, ok := c.freePublic(); ok {
			e.public = a
			c.publicIPs[a] = describe(e.kind, e.name)
			continue
		}
		c.errorf(e.path, "", "no free public address left for NAT gateway %q: set public_ip", e.name)
	}
}

// freePublic returns the first free address of the public pools.
func (c *checker) freePublic() (netip.Addr, bool) {
pools:
	for _, pool := range publicPools() {
		for _, s := range c.segments {
			if s.prefix.Overlaps(pool) {
				continue pools
			}
		}
		for _, v := range c.vpcs {
			if overlaps(v.cidr, pool) {
				continue pools
			}
		}
		a := pool.Addr()
		for range 100 {
			a = a.Next()
		}
		for ; pool.Contains(a) && a != lastAddr(pool); a = a.Next() {
			if _, used := c.publicIPs[a]; !used {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

// checkConnectedOverlaps rejects overlapping CIDRs of VPCs that are used
// together: joined through an endpoint service (a consumer VPC and the VPC
// of the service's GWLBs). AWS allows it, but inner packets then carry
// addresses that also exist in the provider VPC: appliances that route inner
// packets (gwlbtun's tunnel devices, two-arm NAT) and the lab's traces by
// address would misdeliver them.
func (c *checker) checkConnectedOverlaps() {
	parent := map[string]string{}
	var findRoot func(string) string
	findRoot = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			r := findRoot(p)
			parent[x] = r
			return r
		}
		return x
	}
	union := func(a, b string) {
		ra, rb := findRoot(a), findRoot(b)
		if ra != rb {
			if ra > rb {
				ra, rb = rb, ra
			}
			parent[rb] = ra
		}
	}
	for _, e := range c.enis {
		if e.kind != kindGWLBE {
			continue
		}
		if s := c.services[e.service]; s != nil {
			for _, gn := range s.gwlbs {
				if g := c.gwlbs[gn]; g != nil && g.vpc != "" {
					union(e.vpc, g.vpc)
				}
			}
		}
	}
	names := keys(c, "vpcs", c.t.VPCs)
	for i, a := range names {
		for _, b := range names[:i] {
			va, vb := c.vpcs[a], c.vpcs[b]
			if findRoot(a) == findRoot(b) && overlaps(va.cidr, vb.cidr) {
				c.errorf(va.path, "cidr", "cidr %s overlaps vpc %q (%s), which is connected to it through a GWLB endpoint service", va.cidr, b, vb.cidr)
			}
		}
	}
}
