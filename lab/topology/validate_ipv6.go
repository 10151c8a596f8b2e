package topology

import (
	"maps"
	"net/netip"
	"slices"
)

// IPv6 of dualstack labs. AWS gives every ENI of a dualstack subnet an
// address from the subnet's /64 and announces the router by router
// advertisements; the lab instead fixes both so that they are predictable:
//
//   - the subnet router is the subnet prefix ::1;
//   - an ENI (instance, GWLB node, endpoint) without ipv6_address gets the
//     subnet prefix plus the host number of its IPv4 address: 10.0.1.10 in
//     10.0.1.0/24 gets prefix::a;
//   - an internet host's ipv6 is on-link in its /64, whose router is ::1
//     unless ipv6_gateway says otherwise.
//
// IPv6 crosses an internet gateway untranslated (AWS IGWs do not NAT IPv6),
// so a VPC's ipv6_cidr must not overlap an internet host's /64, nor the
// ipv6_cidr of another VPC with an internet gateway.

// hostNumber6 is the IPv6 address in prefix whose low 32 bits are the host
// number of a in subnet.
func hostNumber6(prefix netip.Prefix, subnet netip.Prefix, a netip.Addr) netip.Addr {
	s, x := subnet.Masked().Addr().As4(), a.As4()
	n := (uint32(x[0])<<24 | uint32(x[1])<<16 | uint32(x[2])<<8 | uint32(x[3])) -
		(uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3]))
	b := prefix.Masked().Addr().As16()
	b[12], b[13], b[14], b[15] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return netip.AddrFrom16(b)
}

// router6 is the lab's IPv6 subnet router: prefix ::1.
func router6(prefix netip.Prefix) netip.Addr { return prefix.Masked().Addr().Next() }

func (c *checker) checkIPv6() {
	c.checkENIAddrs6()
	c.checkHostAddrs6()
	// VPC blocks against internet hosts and against each other.
	names := keys(c, "vpcs", c.t.VPCs)
	for i, vn := range names {
		v := c.vpcs[vn]
		if v == nil || !v.v6.IsValid() {
			continue
		}
		for _, s := range c.segments {
			for _, p6 := range s.v6 {
				if p6.prefix.Overlaps(v.v6) {
					c.errorf(v.path, "ipv6_cidr", "ipv6_cidr %s overlaps the IPv6 /64 of internet host %q (%s): IPv6 crosses the internet gateway untranslated, so the addresses must be distinct", v.v6, p6.host, p6.prefix)
				}
			}
		}
		for _, on := range names[:i] {
			o := c.vpcs[on]
			if o != nil && o.v6.IsValid() && overlaps(v.v6, o.v6) && (v.igw != "" || o.igw != "") {
				c.errorf(v.path, "ipv6_cidr", "ipv6_cidr %s overlaps vpc %q (%s): IPv6 addresses behind an internet gateway are global and must be unique", v.v6, on, o.v6)
			}
		}
	}
}

// checkENIAddrs6 gives every ENI of a dualstack subnet its IPv6 address.
func (c *checker) checkENIAddrs6() {
	used := map[netip.Addr]string{}
	var auto []*eniInfo
	for _, n := range slices.Sorted(maps.Keys(c.enis)) {
		e := c.enis[n]
		if e.kind == kindNAT || e.subnet == "" {
			continue
		}
		s := c.vpcs[e.vpc].subnets[e.subnet]
		if e.given6 == "" {
			if s.v6.IsValid() && e.addr.IsValid() {
				auto = append(auto, e)
			}
			continue
		}
		a := c.parseAddr6(e.path, "ipv6_address", e.given6)
		switch {
		case !a.IsValid():
		case !s.v6.IsValid():
			c.errorf(e.path, "ipv6_address", "ipv6_address needs an ipv6_cidr on subnet %q", s.name)
		case !s.v6.Contains(a):
			c.errorf(e.path, "ipv6_address", "ipv6_address %s is outside subnet %q (%s)", a, s.name, s.v6)
		case a == s.v6.Masked().Addr() || a == router6(s.v6):
			c.errorf(e.path, "ipv6_address", "ipv6_address %s is the network address or the lab's router (::1) of subnet %q", a, s.name)
		case used[a] != "":
			c.errorf(e.path, "ipv6_address", "ipv6_address %s is already used by %s", a, used[a])
		default:
			e.addr6 = a
			used[a] = describe(e.kind, e.name)
		}
	}
	// Transit gateway attachments' interfaces are not in c.enis either
	// (one name, an interface per subnet).
	for _, e := range c.tgwENIs() {
		if e.subnet != "" && c.vpcs[e.vpc].subnets[e.subnet].v6.IsValid() && e.addr.IsValid() {
			auto = append(auto, e)
		}
	}
	// GWLB nodes are not in c.enis (their names are derived).
	for _, gn := range slices.Sorted(maps.Keys(c.gwlbs)) {
		for _, n := range c.gwlbs[gn].nodes {
			if n.subnet != "" && c.vpcs[n.vpc].subnets[n.subnet].v6.IsValid() && n.addr.IsValid() {
				auto = append(auto, n)
			}
		}
	}
	for _, e := range auto {
		s := c.vpcs[e.vpc].subnets[e.subnet]
		a := hostNumber6(s.v6, s.cidr, e.addr)
		if used[a] != "" {
			c.errorf(e.path, "", "its default IPv6 address %s (subnet prefix plus IPv4 host number) is already used by %s; set ipv6_address", a, used[a])
			continue
		}
		e.addr6 = a
		used[a] = describe(e.kind, e.name)
	}
}

// checkHostAddrs6 checks internet hosts' IPv6 addresses and gathers the
// segments' /64s.
func (c *checker) checkHostAddrs6() {
	for _, n := range keys(c, "internet.hosts", c.t.Internet.Hosts) {
		spec := c.t.Internet.Hosts[n]
		h := c.hosts[n]
		if h == nil {
			continue
		}
		if spec.IPv6 == "" {
			if spec.IPv6Gateway != "" {
				c.errorf(h.path, "ipv6_gateway", "ipv6_gateway needs ipv6")
			}
			continue
		}
		a := c.parseAddr6(h.path, "ipv6", spec.IPv6)
		if !a.IsValid() {
			continue
		}
		if !a.IsGlobalUnicast() {
			c.errorf(h.path, "ipv6", "ipv6 %s is not a global IPv6 unicast address (e.g. 2001:db8:1::10)", a)
			continue
		}
		prefix := netip.PrefixFrom(a, 64).Masked()
		gw := router6(prefix)
		if spec.IPv6Gateway != "" {
			gw = c.parseAddr6(h.path, "ipv6_gateway", spec.IPv6Gateway)
			if !gw.IsValid() {
				continue
			}
			if !prefix.Contains(gw) || gw == prefix.Addr() {
				c.errorf(h.path, "ipv6_gateway", "ipv6_gateway %s is not a host address of %s", gw, prefix)
				continue
			}
		}
		if gw == a {
			c.errorf(h.path, "ipv6", "ipv6 %s is its /64's gateway; set ipv6_gateway to another address", a)
			continue
		}
		if !c.joinSegment6(h, n, prefix, gw, a) {
			continue
		}
		h.ip6, h.gw6 = a, gw
	}
}

// joinSegment6 records a host's /64 on its IPv4 segment. A /64 belongs to
// one segment and has one gateway; two hosts cannot share an address.
func (c *checker) joinSegment6(h *hostInfo, name string, prefix netip.Prefix, gw, a netip.Addr) bool {
	var mine *segmentInfo
	for _, s := range c.segments {
		if s.prefix == h.segment {
			mine = s
		}
		for _, p6 := range s.v6 {
			if p6.prefix != prefix {
				continue
			}
			if s.prefix != h.segment {
				c.errorf(h.path, "ipv6", "ipv6 %s is in %s, the /64 of internet host %q on another IPv4 segment (%s)", a, prefix, p6.host, s.prefix)
				return false
			}
			if p6.gateway != gw {
				c.errorf(h.path, "ipv6_gateway", "ipv6_gateway %s differs from %s, the one internet host %q uses on %s", gw, p6.gateway, p6.host, prefix)
				return false
			}
		}
	}
	for _, other := range c.hosts {
		if other != h && other.ip6 == a {
			c.errorf(h.path, "ipv6", "ipv6 %s is already used by %s", a, describe(kindHost, other.name))
			return false
		}
	}
	if mine == nil {
		return false
	}
	if !slices.ContainsFunc(mine.v6, func(p segmentV6) bool { return p.prefix == prefix }) {
		mine.v6 = append(mine.v6, segmentV6{prefix: prefix, gateway: gw, host: name})
	}
	return true
}

// checkDualstackDefaults warns when a dualstack subnet sends IPv4 through a
// GWLB endpoint but not IPv6 (spec §6.6 #15): its IPv6 bypasses inspection
// or is dropped.
func (c *checker) checkDualstackDefaults(v *vpcInfo) {
	if !v.v6.IsValid() {
		return
	}
	any6 := netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	for _, s := range c.subnets(v) {
		if !s.v6.IsValid() {
			continue
		}
		r4, ok := c.defaultVia(v, s)
		if !ok || r4.kind != TargetEndpoint {
			continue
		}
		r6, ok := c.route(v, s.table, any6)
		switch {
		case !ok || r6.dst != any6:
			c.warnf("§6.6 #15", s.path, "ipv6_cidr", "subnet sends 0.0.0.0/0 through endpoint %q but has no ::/0 route: its IPv6 replies and egress are dropped, uninspected", r4.target)
		case r6.kind != TargetEndpoint:
			c.warnf("§6.6 #15", s.path, "ipv6_cidr", "subnet sends 0.0.0.0/0 through endpoint %q but ::/0 to %s: its IPv6 traffic bypasses inspection", r4.target, r6.target)
		}
	}
}
