package topology

// This file holds the count limits: how many of each object a topology may
// hold. There are two kinds. AWS's own quotas (spec §8 and the VPC quotas)
// give the soft limits, above which a file gets a warning: AWS would refuse
// it without a quota increase, but the lab builds it. What one machine can
// carry gives the hard limits, above which a file is an error: every node is
// a network namespace, a TAP device, an emulator goroutine and usually a
// process, and `up` of a lab far beyond these would take minutes and
// gigabytes on the 2-core machines the lab is meant for (docs/topology.md,
// "Limits", has the measurements). Rules scanned per packet or per new flow
// (routes are not: the route table is an interval table) are bounded so
// that their scans stay short.

import "fmt"

// A countLimit bounds how many of something a file may hold.
type countLimit struct {
	what string // plural noun: "routes", "nodes"
	per  string // "per route table"; empty for the whole lab
	// soft: above it, a warning citing why (an AWS quota, or the cost);
	// 0 for none.
	soft    int
	softWhy string
	spec    string // spec section of the soft limit, if any
	// hard: above it, an error citing why; 0 for none.
	hard    int
	hardWhy string
}

// The limits, listed in docs/topology.md ("Limits").
var (
	limitNodes = countLimit{what: "nodes", soft: 250,
		softWhy: "up then takes over 5 s on 2 cores, and every node costs about 2 MB of memory with its program",
		hard:    1000,
		hardWhy: "one machine carries no more: at 1000, up already takes about 30 s and 2 GB of memory on 2 cores (a namespace, a TAP device and usually a process each)"}
	limitSubnets = countLimit{what: "subnets", per: "per vpc", soft: 200, softWhy: "AWS's default quota (adjustable)",
		hard: 1000, hardWhy: "beyond what any lab needs; each subnet is a router of the emulator"}
	limitRouteTables = countLimit{what: "route tables", per: "per vpc", soft: 200, softWhy: "AWS's default quota (adjustable)",
		hard: 1000, hardWhy: "beyond what any lab needs"}
	limitRoutes = countLimit{what: "routes", per: "per route table", soft: 50, softWhy: "AWS's default quota (adjustable up to 1000)",
		hard: 1000, hardWhy: "AWS's maximum, even with a quota increase"}
	limitRules = countLimit{what: "firewall rules", per: "per appliance", soft: 1000,
		softWhy: "the appliance checks every new flow against its rules in order, so each new flow then costs microseconds",
		hard:    10000, hardWhy: "a linear scan of more would slow every new flow by tens of microseconds"}
	limitTGWRoutes = countLimit{what: "routes", per: "per transit gateway route table", hard: 10000,
		hardWhy: "AWS's quota of static routes per transit gateway"}
	limitTargetsPerTG = countLimit{what: "targets", per: "per target group", hard: 1000,
		hardWhy: "AWS's quota of targets per target group", spec: "§8"}
)

// checkCount records a finding when n things at path (the field that lists
// them named by field) exceed lim, and reports whether n is within the hard
// limit.
func (c *checker) checkCount(lim countLimit, path, field string, n int) bool {
	per := ""
	if lim.per != "" {
		per = " " + lim.per
	}
	switch {
	case lim.hard > 0 && n > lim.hard:
		c.add(SeverityError, lim.spec, path, field, "%d %s exceed the limit of %d%s: %s", n, lim.what, lim.hard, per, lim.hardWhy)
		return false
	case lim.soft > 0 && n > lim.soft:
		c.add(SeverityWarning, lim.spec, path, field, "%d %s are more than %d%s: %s", n, lim.what, lim.soft, per, lim.softWhy)
	}
	return true
}

// checkLimits checks every count limit and reports whether the file is
// within the hard ones. When it is not, the other checks are skipped: some
// compare objects pairwise, and their findings would bury the one that
// matters.
func (c *checker) checkLimits() bool {
	ok := true
	nodes := len(c.t.Internet.Hosts)
	for _, vn := range keys(c, "vpcs", c.t.VPCs) {
		v := c.t.VPCs[vn]
		vp := childPath("vpcs", vn)
		nodes += len(v.Instances)
		ok = c.checkCount(limitSubnets, vp, "subnets", len(v.Subnets)) && ok
		ok = c.checkCount(limitRouteTables, vp, "route_tables", len(v.RouteTables)) && ok
		rtp := childPath(vp, "route_tables")
		for _, rn := range keys(c, rtp, v.RouteTables) {
			ok = c.checkCount(limitRoutes, childPath(rtp, rn), "routes", len(v.RouteTables[rn].Routes)) && ok
		}
		ip := childPath(vp, "instances")
		for _, in := range keys(c, ip, v.Instances) {
			if r := v.Instances[in].Run; r != nil && r.Appliance != nil {
				ok = c.checkCount(limitRules, childPath(childPath(childPath(ip, in), "run"), "appliance"), "rules", len(r.Appliance.Rules)) && ok
			}
		}
	}
	for _, gn := range keys(c, "gwlbs", c.t.GWLBs) {
		g := c.t.GWLBs[gn]
		nodes += len(g.Subnets) // one GWLB node per enabled subnet
		ok = c.checkCount(limitTargetsPerTG, childPath(childPath("gwlbs", gn), "target_group"), "targets", len(g.TargetGroup.Targets)) && ok
	}
	for _, tn := range keys(c, "transit_gateways", c.t.TransitGateways) {
		rtp := childPath(childPath("transit_gateways", tn), "route_tables")
		tables := c.t.TransitGateways[tn].RouteTables
		for _, rn := range keys(c, rtp, tables) {
			ok = c.checkCount(limitTGWRoutes, childPath(rtp, rn), "routes", len(tables[rn].Routes)) && ok
		}
	}
	for _, an := range keys(c, "autoscaling_groups", c.t.AutoScalingGroups) {
		if m := c.t.AutoScalingGroups[an].Max; m != nil && *m > 0 {
			nodes += *m // every instance the group may hold is a node
		}
	}
	if !c.checkCount(limitNodes, "", "", nodes) {
		ok = false
	}
	return ok
}

// String is how docs/topology.md lists a limit; TestLimitsDocumented keeps
// the two in step.
func (l countLimit) String() string {
	s := l.what
	if l.per != "" {
		s += " " + l.per
	}
	if l.soft > 0 {
		s += fmt.Sprintf(": warning above %d", l.soft)
	}
	if l.hard > 0 {
		if l.soft > 0 {
			s += ","
		} else {
			s += ":"
		}
		s += fmt.Sprintf(" error above %d", l.hard)
	}
	return s
}

// CountLimits lists the limits as docs/topology.md shows them.
func CountLimits() []string {
	var out []string
	for _, l := range []countLimit{limitNodes, limitSubnets, limitRouteTables, limitRoutes, limitRules, limitTargetsPerTG, limitTGWRoutes} {
		out = append(out, l.String())
	}
	return out
}
