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
//
// For each destination that some endpoint subnet routes to an endpoint,
// every endpoint has at most one next endpoint (its subnet's most specific
// route covering the destination), so following those from each endpoint
// finds the cycles in linear steps, however many endpoints there are.
func (c *checker) checkEndpointLoops(v *vpcInfo) {
	eps := keys(c, childPath(v.path, "gwlb_endpoints"), c.t.VPCs[v.name].GWLBEndpoints)
	table := map[string]string{}
	var dsts []netip.Prefix
	for _, n := range eps {
		s := c.eniSubnet(v, n)
		if s == nil || s.table == "" || v.tables[s.table] == nil {
			continue
		}
		table[n] = s.table
		for _, r := range v.tables[s.table].routes {
			if r.kind == TargetEndpoint && r.dst.IsValid() && !slices.Contains(dsts, r.dst) {
				dsts = append(dsts, r.dst)
			}
		}
	}
	warned := map[string]bool{}
	for _, dst := range dsts {
		next := func(n string) (string, bool) {
			t, ok := table[n]
			if !ok {
				return "", false
			}
			r, ok := c.route(v, t, dst)
			if !ok || r.kind != TargetEndpoint {
				return "", false
			}
			return r.target, true
		}
		for _, start := range eps {
			if warned[start] {
				continue
			}
			path := []string{start}
			for at := start; len(path) <= len(eps); {
				to, ok := next(at)
				// A route straight back into the endpoint itself is
				// checkEndpointSubnets' warning.
				if !ok || to == at {
					break
				}
				if to == start {
					for _, m := range path {
						warned[m] = true
					}
					c.warnf("§6.3", c.enis[start].path, "subnet", "traffic to %s that leaves endpoint %q loops through endpoints %s: each endpoint's subnet routes it into the next, and nothing decrements the TTL (the lab drops such a packet as endpoint_loop)", dst, start, strings.Join(append(path, start), " → "))
					break
				}
				if slices.Contains(path, to) {
					break // a cycle that does not pass start: found from its own members
				}
				path = append(path, to)
				at = to
			}
		}
	}
}
