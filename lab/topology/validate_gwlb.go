package topology

import (
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Rules of GWLBs, their listener and target group, endpoint services and
// GWLB endpoints.

var tgNameRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?$`)

// parseStickiness maps every accepted spelling, the lab's and AWS's, to the
// lab's name.
func parseStickiness(s string) (Stickiness, bool) {
	switch s {
	case "5-tuple":
		return FiveTuple, true
	case "3-tuple", "source_ip_dest_ip_proto":
		return ThreeTuple, true
	case "2-tuple", "source_ip_dest_ip":
		return TwoTuple, true
	}
	return "", false
}

// tgName returns a target group's name, given or derived.
func tgName(gwlb string, spec *TargetGroupSpec) string {
	if spec.Name != "" {
		return spec.Name
	}
	return gwlb + "-tg"
}

func (c *checker) checkGWLBs() {
	perVPC := map[string]int{}
	for _, gn := range keys(c, "gwlbs", c.t.GWLBs) {
		spec := c.t.GWLBs[gn]
		p := childPath("gwlbs", gn)
		g := &gwlbInfo{name: gn, path: p, azs: map[string]string{}}
		c.gwlbs[gn] = g
		switch o, ok := c.objects[spec.VPC]; {
		case spec.VPC == "":
			c.errorf(p, "vpc", "vpc is required")
		case !ok || o.kind != kindVPC:
			c.errorf(p, "vpc", "vpc %q is not defined", spec.VPC)
		default:
			g.vpc = spec.VPC
			if perVPC[g.vpc]++; perVPC[g.vpc] > maxGWLBsPerVPC {
				c.specErrorf("§8", p, "vpc", "vpc %q has more than %d GWLBs (AWS quota)", g.vpc, maxGWLBsPerVPC)
			}
		}

		sp := childPath(p, "subnets")
		if len(spec.Subnets) == 0 {
			c.errorf(p, "subnets", "subnets is required: enable at least one subnet (one per az)")
		}
		for _, sn := range keys(c, sp, spec.Subnets) {
			np := childPath(sp, sn)
			if g.vpc == "" {
				continue
			}
			s, ok := c.vpcs[g.vpc].subnets[sn]
			if !ok {
				c.errorf(np, "", "subnet %q is not defined in vpc %q", sn, g.vpc)
				continue
			}
			if s.az == "" {
				continue
			}
			if other, dup := g.azs[s.az]; dup {
				c.errorf(np, "", "subnets %q and %q are both in az %q: a GWLB has one subnet per az", other, sn, s.az)
				continue
			}
			g.azs[s.az] = sn
			node := &eniInfo{
				name: gn + "-" + s.az, kind: kindNode, vpc: g.vpc, subnet: sn, path: np,
				label: "address", given: spec.Subnets[sn], allocate: allocGWLBNode, gwlb: gn,
			}
			if o, dup := c.objects[node.name]; dup {
				c.errorf(np, "", "node name %q (GWLB %q in az %q) is already used by the %s at %s", node.name, gn, s.az, o.kind, o.path)
				continue
			}
			c.objects[node.name] = object{kindNode, np, g.vpc}
			g.nodes = append(g.nodes, node)
		}
		c.checkTargetGroup(g, &spec.TargetGroup)
		c.checkListener(g, &spec.Listener)
		c.bounded(p, "max_flows_per_node", spec.MaxFlowsPerNode, 1, maxFlowsPerNode)
	}
}

// maxTiming bounds every timing value, lab.lab_timings or not: a day is
// beyond anything a lab runs for, and keeps the wall-clock durations the
// emulator derives (a day at the slowest time_scale is 100 days) far from
// overflowing a time.Duration.
const maxTiming = 86400

// intRange checks an optional timing value: below hardMin or above
// maxTiming is always an error, outside AWS's lo-hi range a timing finding.
func (c *checker) intRange(spec, path, field string, v *int, hardMin, lo, hi int) bool {
	if v == nil {
		return true
	}
	if *v < hardMin {
		c.errorf(path, field, "%s must be at least %d, got %d", field, hardMin, *v)
		return false
	}
	if *v > maxTiming {
		c.errorf(path, field, "%s must be at most %d (a day), even with lab.lab_timings, got %d", field, maxTiming, *v)
		return false
	}
	if *v < lo || *v > hi {
		c.timing(spec, path, field, "%s %d is outside AWS's range %d-%d", field, *v, lo, hi)
	}
	return true
}

// bounded checks an optional count against the lab's limits.
func (c *checker) bounded(path, field string, v *int, lo, hi int) {
	if v != nil && (*v < lo || *v > hi) {
		c.errorf(path, field, "%s %d is outside %d-%d", field, *v, lo, hi)
	}
}

// port checks an optional port number.
func (c *checker) port(path, field string, v *int) {
	if v != nil && (*v < 1 || *v > 65535) {
		c.errorf(path, field, "%s %d is not a port number (1-65535)", field, *v)
	}
}

// enum checks that v is empty or one of allowed.
func (c *checker) enum(path, field, v string, allowed ...string) bool {
	if v == "" {
		return true
	}
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	c.errorf(path, field, "%s %q is not one of %s", field, v, strings.Join(allowed, ", "))
	return false
}

func (c *checker) checkListener(g *gwlbInfo, spec *ListenerSpec) {
	p := childPath(g.path, "listener")
	v := spec.TCPIdleTimeout
	if !c.intRange("§3.3", p, "tcp_idle_timeout", v, 1, minTCPIdleTimeout, maxTCPIdleTimeout) || v == nil {
		return
	}
	if g.stickiness != FiveTuple && g.stickiness != "" && *v != int(DefaultTCPIdleTimeout.Seconds()) {
		c.timing("§3.3", p, "tcp_idle_timeout", "tcp_idle_timeout %d can only be set with 5-tuple stickiness; with %s AWS fixes it at %d", *v, g.stickiness, int(DefaultTCPIdleTimeout.Seconds()))
	}
}

func (c *checker) checkTargetGroup(g *gwlbInfo, tg *TargetGroupSpec) {
	p := childPath(g.path, "target_group")
	g.tgName = tgName(g.name, tg)
	if !tgNameRE.MatchString(g.tgName) {
		field := "name"
		if tg.Name == "" {
			field = ""
		}
		c.specErrorf("§8", p, field, "target group name %q is not valid: at most 32 letters, digits or hyphens, not starting or ending with a hyphen", g.tgName)
	} else if other, dup := c.tgNames[g.tgName]; dup {
		c.errorf(p, "name", "target group name %q is already used by GWLB %q", g.tgName, other)
	} else {
		c.tgNames[g.tgName] = g.name
	}
	c.enum(p, "target_type", tg.TargetType, string(TargetTypeInstance), string(TargetTypeIP))

	g.stickiness = DefaultStickiness
	if tg.Stickiness != "" {
		if s, ok := parseStickiness(tg.Stickiness); ok {
			g.stickiness = s
		} else {
			c.errorf(p, "stickiness", "stickiness %q is not one of 5-tuple, 3-tuple, 2-tuple, source_ip_dest_ip_proto, source_ip_dest_ip", tg.Stickiness)
			g.stickiness = ""
		}
	}

	fp := childPath(p, "target_failover")
	okDereg := c.enum(fp, "on_deregistration", tg.TargetFailover.OnDeregistration, string(NoRebalance), string(Rebalance))
	okUnhealthy := c.enum(fp, "on_unhealthy", tg.TargetFailover.OnUnhealthy, string(NoRebalance), string(Rebalance))
	if okDereg && okUnhealthy {
		d, u := failover(tg.TargetFailover.OnDeregistration), failover(tg.TargetFailover.OnUnhealthy)
		if d != u {
			c.specErrorf("§4.4", fp, "", "on_deregistration (%s) and on_unhealthy (%s) must be equal", d, u)
		}
	}
	c.intRange("§4.5", p, "deregistration_delay", tg.DeregistrationDelay, minDeregistrationDelay, minDeregistrationDelay, maxDeregistrationDelay)

	hp := childPath(p, "health_check")
	hc := &tg.HealthCheck
	c.enum(hp, "protocol", hc.Protocol, "TCP", "HTTP", "HTTPS")
	c.port(hp, "port", hc.Port)
	okInterval := c.intRange("§4.1", hp, "interval", hc.Interval, 1, minHealthCheckInterval, maxHealthCheckInterval)
	okTimeout := c.intRange("§4.1", hp, "timeout", hc.Timeout, 1, minHealthCheckTimeout, maxHealthCheckTimeout)
	c.intRange("§4.1", hp, "healthy_threshold", hc.HealthyThreshold, 1, minThreshold, maxThreshold)
	c.intRange("§4.1", hp, "unhealthy_threshold", hc.UnhealthyThreshold, 1, minThreshold, maxThreshold)
	if okInterval && okTimeout {
		interval := intOr(hc.Interval, int(DefaultHealthCheckInterval.Seconds()))
		timeout := intOr(hc.Timeout, int(DefaultHealthCheckTimeout.Seconds()))
		if interval < timeout {
			c.timing("§4.1", hp, "interval", "interval %d is shorter than timeout %d; AWS requires interval >= timeout", interval, timeout)
		}
	}
	if hc.Path != "" && !strings.HasPrefix(hc.Path, "/") {
		c.errorf(hp, "path", "path %q must start with /", hc.Path)
	}
	if hc.Matcher != "" {
		if err := checkMatcher(hc.Matcher); err != "" {
			c.specErrorf("§4.1", hp, "matcher", "matcher %q: %s", hc.Matcher, err)
		}
	}
	if hc.Protocol == "" || hc.Protocol == "TCP" {
		for _, f := range []struct{ name, value string }{{"path", hc.Path}, {"matcher", hc.Matcher}} {
			if f.value != "" {
				c.warnf("§4.1", hp, f.name, "%s applies to HTTP and HTTPS health checks only; it is ignored with protocol TCP", f.name)
			}
		}
	}
}

// checkMatcher checks an HTTP success-code matcher: codes or ranges within
// 200-399, comma separated. It returns the problem, or "".
func checkMatcher(m string) string {
	for part := range strings.SplitSeq(m, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		switch {
		case err1 != nil || err2 != nil:
			return "use codes or ranges like 200, 200-299 or 200,302"
		case a > b:
			return "range " + part + " is reversed"
		case a < 200 || b > 399:
			return "GWLB health checks accept codes within 200-399 only"
		}
	}
	return ""
}

func failover(s string) FailoverAction {
	if s == "" {
		return DefaultTargetFailover
	}
	return FailoverAction(s)
}

func intOr(p *int, d int) int {
	if p == nil {
		return d
	}
	return *p
}

func (c *checker) checkServices() {
	for _, sn := range keys(c, "endpoint_services", c.t.EndpointServices) {
		spec := c.t.EndpointServices[sn]
		p := childPath("endpoint_services", sn)
		svc := &serviceInfo{name: sn, path: p}
		c.services[sn] = svc
		if len(spec.GWLBs) == 0 {
			c.errorf(p, "gwlbs", "gwlbs needs at least one GWLB")
		}
		lp := childPath(p, "gwlbs")
		for i, gn := range spec.GWLBs {
			ip := indexPath(lp, i)
			if _, ok := c.lookup(gn, kindGWLB); !ok {
				c.errorf(ip, "", "gwlb %q is not defined", gn)
				continue
			}
			g := c.gwlbs[gn]
			switch g.service {
			case "":
				g.service = sn
				svc.gwlbs = append(svc.gwlbs, gn)
			case sn:
				c.errorf(ip, "", "gwlb %q is listed twice", gn)
			default:
				c.errorf(ip, "", "gwlb %q is already behind endpoint service %q (a load balancer serves one service)", gn, g.service)
			}
		}
	}
}

// checkEndpoints checks the endpoints' services and zones and picks the GWLB
// each endpoint uses: the first of its service's GWLBs enabled in its AZ.
func (c *checker) checkEndpoints() {
	type slot struct{ vpc, service, az string }
	first := map[slot]string{}
	for _, vn := range keys(c, "vpcs", c.t.VPCs) {
		vp := childPath("vpcs", vn)
		names := keys(c, childPath(vp, "gwlb_endpoints"), c.t.VPCs[vn].GWLBEndpoints)
		if len(names) > maxEndpointsPerVPC {
			c.specErrorf("§8", vp, "gwlb_endpoints", "vpc has %d GWLB endpoints; AWS's quota is %d endpoints per vpc", len(names), maxEndpointsPerVPC)
		}
		for _, n := range names {
			e := c.enis[n]
			if e == nil || e.kind != kindGWLBE {
				continue
			}
			if e.service == "" {
				c.errorf(e.path, "service", "service is required")
				continue
			}
			if _, ok := c.lookup(e.service, kindService); !ok {
				c.errorf(e.path, "service", "service %q is not defined", e.service)
				continue
			}
			svc := c.services[e.service]
			svc.endpoints = append(svc.endpoints, n)
			if e.subnet == "" {
				continue
			}
			az := c.vpcs[vn].subnets[e.subnet].az
			k := slot{vn, e.service, az}
			if prev, dup := first[k]; dup {
				c.specErrorf("§6.1", e.path, "subnet", "endpoint service %q already has endpoint %q in az %q of vpc %q: one GWLB endpoint per az per service per vpc", e.service, prev, az, vn)
				continue
			}
			first[k] = n
			for _, gn := range svc.gwlbs {
				if _, ok := c.gwlbs[gn].azs[az]; ok {
					e.gwlb = gn
					break
				}
			}
			if e.gwlb == "" && c.servicePlaced(svc) {
				c.specErrorf("§6.1", e.path, "subnet", "endpoint service %q has no GWLB in az %q: an endpoint's az must be one its GWLB enables", e.service, az)
			}
		}
	}
}

// servicePlaced reports whether all of a service's GWLBs are valid and in a
// known VPC, so that their zones are known.
func (c *checker) servicePlaced(svc *serviceInfo) bool {
	if len(svc.gwlbs) == 0 || len(svc.gwlbs) != len(c.t.EndpointServices[svc.name].GWLBs) {
		return false
	}
	for _, gn := range svc.gwlbs {
		if c.gwlbs[gn].vpc == "" {
			return false
		}
	}
	return true
}

// checkTargets resolves the registered targets and checks their zones.
func (c *checker) checkTargets() {
	for _, gn := range keys(c, "gwlbs", c.t.GWLBs) {
		g := c.gwlbs[gn]
		spec := c.t.GWLBs[gn]
		tg := &spec.TargetGroup
		p := childPath(g.path, "target_group")
		lp := childPath(p, "targets")
		if len(tg.Targets) > maxTargetsPerGWLB {
			c.specErrorf("§8", p, "targets", "%d targets exceed AWS's quota of %d targets per GWLB", len(tg.Targets), maxTargetsPerGWLB)
		}
		ipType := tg.TargetType == string(TargetTypeIP)
		seen := map[string]int{}
		allOK := g.vpc != ""
		for i, t := range tg.Targets {
			ip := indexPath(lp, i)
			e := c.target(g, ip, t, ipType)
			if e == nil {
				allOK = false
				continue
			}
			if prev, dup := seen[e.name]; dup {
				c.errorf(ip, "", "target %q is already registered as targets[%d]", t, prev)
				allOK = false
				continue
			}
			seen[e.name] = i
			if e.subnet == "" || !e.addr.IsValid() {
				allOK = false
				continue
			}
			az := c.vpcs[e.vpc].subnets[e.subnet].az
			if _, ok := g.azs[az]; !ok {
				c.warnf("§4.2", ip, "", "target %q is in az %q, which GWLB %q does not enable: it stays unused (Target.NotInUse)", t, az, gn)
			}
			g.targets = append(g.targets, targetInfo{id: t, node: e.name, az: az, subnet: e.subnet, addr: e.addr})
		}
		if !allOK {
			continue
		}
		scaled := c.asgAZs(g.tgName)
		for _, node := range g.nodes {
			az := c.vpcs[node.vpc].subnets[node.subnet].az
			found := scaled[az]
			for _, t := range g.targets {
				found = found || t.az == az
			}
			if !found {
				c.specErrorf("§4.6", node.path, "", "az %q has no target: the target group needs at least one registered target in every az the GWLB enables", az)
			}
		}
	}
}

// target resolves one registered target to its instance.
func (c *checker) target(g *gwlbInfo, path, t string, ipType bool) *eniInfo {
	if t == "" {
		c.errorf(path, "", "target is empty")
		return nil
	}
	if ipType {
		a, err := netip.ParseAddr(t)
		if err != nil {
			c.errorf(path, "", "target %q is not an IP address (target_type is ip)", t)
			return nil
		}
		if isPublic(a) {
			c.specErrorf("§1", path, "", "target %s is a public address: targets of type ip must be private addresses", a)
			return nil
		}
		if g.vpc == "" {
			return nil
		}
		for _, n := range keys(c, childPath(childPath("vpcs", g.vpc), "instances"), c.t.VPCs[g.vpc].Instances) {
			if e := c.enis[n]; e != nil && e.addr == a {
				return e
			}
		}
		c.errorf(path, "", "target %s is not the address of an instance of vpc %q", a, g.vpc)
		return nil
	}
	if _, err := netip.ParseAddr(t); err == nil {
		c.errorf(path, "", "target %q is an address but target_type is instance: name an instance, or set target_type: ip", t)
		return nil
	}
	o, ok := c.objects[t]
	switch {
	case !ok:
		c.errorf(path, "", "target %q is not defined", t)
		return nil
	case o.kind != kindInst:
		c.errorf(path, "", "target %q is %s, not an instance", t, article(o.kind))
		return nil
	case g.vpc != "" && o.vpc != g.vpc:
		c.errorf(path, "", "target %q is an instance of vpc %q, not of the GWLB's vpc %q", t, o.vpc, g.vpc)
		return nil
	}
	return c.enis[t]
}
