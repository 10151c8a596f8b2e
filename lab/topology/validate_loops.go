package topology

import (
	"net/netip"
	"slices"
	"strings"
)

// checkEndpointLoops: endpoints whose subnets route into each other. What
// leaves an endpoint follows its own subnet's route table (§6.3 #2); when
// that sends it into another endpoint whose subnet sends it on, round to
// the first, a packet circles through the appliances: nothing on the way
// decrements its TTL. AWS would carry it until something breaks; the lab
// drops it after 16 endpoint entries (endpoint_loop).
func (c *checker) checkEndpointLoops(v *vpcInfo) {
	eps := keys(c, childPath(v.path, "gwlb_endpoints"), c.t.VPCs[v.name].GWLBEndpoints)
	type edge struct {
		to    string
		dst   netip.Prefix
		table string
	}
	next := map[string][]edge{}
	for _, n := range eps {
		s := c.eniSubnet(v, n)
		if s == nil || s.table == "" || v.tables[s.table] == nil {
			continue
		}
		for _, r := range v.tables[s.table].routes {
			// A route straight back into the endpoint itself is
			// checkEndpointSubnets' warning.
			if r.kind == TargetEndpoint && r.target != n && r.dst.IsValid() {
				next[n] = append(next[n], edge{r.target, r.dst, s.table})
			}
		}
	}
	warned := map[string]bool{}
	var path []string
	var walk func(n string, within netip.Prefix)
	walk = func(n string, within netip.Prefix) {
		for _, e := range next[n] {
			// Every route of the cycle must match some destination.
			if !e.dst.Overlaps(within) {
				continue
			}
			narrow := within
			if e.dst.Bits() > within.Bits() {
				narrow = e.dst
			}
			if e.to == path[0] {
				cycle := append(append([]string(nil), path...), e.to)
				if !warned[path[0]] {
					for _, m := range path {
						warned[m] = true
					}
					c.warnf("§6.3", c.enis[path[0]].path, "subnet", "traffic to %s that leaves endpoint %q loops through endpoints %s: each endpoint's subnet routes it into the next, and nothing decrements the TTL (the lab drops such a packet as endpoint_loop)", narrow, path[0], strings.Join(cycle, " → "))
				}
				continue
			}
			if warned[e.to] || slices.Contains(path, e.to) {
				continue
			}
			path = append(path, e.to)
			walk(e.to, narrow)
			path = path[:len(path)-1]
		}
	}
	for _, n := range eps {
		if warned[n] {
			continue
		}
		for _, all := range []netip.Prefix{defaultRoute(), netip.PrefixFrom(netip.IPv6Unspecified(), 0)} {
			path = []string{n}
			walk(n, all)
		}
	}
}
