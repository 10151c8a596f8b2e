package topology

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Transit gateways (spec §6.5): attachments, their route tables, and the
// patterns that break inspection behind them (spec §6.6 #4, #5).

const (
	kindTGW    objKind = "transit gateway"
	kindTGWAtt objKind = "transit gateway attachment"
)

type tgwInfo struct {
	name, path string
	atts       map[string]*tgwAttInfo // by name
	attOrder   []string               // file order
	byVPC      map[string]string      // vpc -> attachment
	tables     map[string]*tgwTableInfo
	tableOrder []string
}

type tgwAttInfo struct {
	name, path, vpc string
	enis            []*eniInfo // one per valid subnet, in file order
	appliance       bool
	table           string   // effective association; "" for none
	propagations    []string // effective, sorted
}

type tgwTableInfo struct {
	name, path   string
	associations []string // effective, sorted
	propagations []string // effective, sorted
	routes       []tgwRouteInfo
}

type tgwRouteInfo struct {
	dst       netip.Prefix
	att       string // "" for a blackhole
	blackhole bool
}

// tgwNames adds the names of transit gateways and their attachments to the
// file's global names.
func (c *checker) tgwNames(add func(name string, o object)) {
	for _, tn := range keys(c, "transit_gateways", c.t.TransitGateways) {
		tp := childPath("transit_gateways", tn)
		c.checkName(tp, "transit gateway", tn)
		add(tn, object{kind: kindTGW, path: tp})
		t := c.t.TransitGateways[tn]
		ap := childPath(tp, "attachments")
		for _, an := range keys(c, ap, t.Attachments) {
			c.checkName(childPath(ap, an), "transit gateway attachment", an)
			add(an, object{kind: kindTGWAtt, path: childPath(ap, an), vpc: t.Attachments[an].VPC})
		}
		rp := childPath(tp, "route_tables")
		for _, rn := range keys(c, rp, t.RouteTables) {
			c.checkName(childPath(rp, rn), "transit gateway route table", rn)
		}
	}
}

// checkTGWs checks attachments and route tables, and makes the attachment
// ENIs that checkENIs gives addresses.
func (c *checker) checkTGWs() {
	for _, tn := range keys(c, "transit_gateways", c.t.TransitGateways) {
		spec := c.t.TransitGateways[tn]
		t := &tgwInfo{name: tn, path: childPath("transit_gateways", tn), atts: map[string]*tgwAttInfo{},
			byVPC: map[string]string{}, tables: map[string]*tgwTableInfo{}}
		c.tgws[tn] = t
		ap := childPath(t.path, "attachments")
		for _, an := range keys(c, ap, spec.Attachments) {
			as := spec.Attachments[an]
			a := &tgwAttInfo{name: an, path: childPath(ap, an), vpc: as.VPC, appliance: as.ApplianceModeSupport}
			t.atts[an] = a
			t.attOrder = append(t.attOrder, an)
			v, ok := c.vpcs[as.VPC]
			switch {
			case as.VPC == "":
				c.errorf(a.path, "vpc", "vpc is required")
				continue
			case !ok:
				c.errorf(a.path, "vpc", "vpc %q is not defined", as.VPC)
				continue
			case t.byVPC[as.VPC] != "":
				c.errorf(a.path, "vpc", "vpc %q already has attachment %q to transit gateway %q (one attachment per VPC and transit gateway)", as.VPC, t.byVPC[as.VPC], tn)
				continue
			}
			t.byVPC[as.VPC] = an
			azs := map[string]string{}
			sp := childPath(a.path, "subnets")
			for i, sn := range as.Subnets {
				s, ok := v.subnets[sn]
				if !ok {
					c.errorf(indexPath(sp, i), "", "subnet %q is not defined in vpc %q", sn, as.VPC)
					continue
				}
				if prev, dup := azs[s.az]; dup {
					c.errorf(indexPath(sp, i), "", "subnet %q is in az %q like subnet %q: an attachment has at most one subnet per AZ", sn, s.az, prev)
					continue
				}
				azs[s.az] = sn
				a.enis = append(a.enis, &eniInfo{name: an, kind: kindTGWAtt, vpc: as.VPC, subnet: sn, path: indexPath(sp, i), label: "attachment address", allocate: allocTGW})
			}
		}
		rp := childPath(t.path, "route_tables")
		assocBy := map[string]string{}
		propagates := map[string]bool{}
		for _, rn := range keys(c, rp, spec.RouteTables) {
			rs := spec.RouteTables[rn]
			rt := &tgwTableInfo{name: rn, path: childPath(rp, rn)}
			t.tables[rn] = rt
			t.tableOrder = append(t.tableOrder, rn)
			attachment := func(path, name string) bool {
				if _, ok := t.atts[name]; ok {
					return true
				}
				if o, ok := c.objects[name]; ok && o.kind == kindTGWAtt {
					c.errorf(path, "", "attachment %q belongs to another transit gateway (%s)", name, o.path)
				} else {
					c.errorf(path, "", "attachment %q is not defined in transit gateway %q", name, tn)
				}
				return false
			}
			for i, an := range rs.Associations {
				p := indexPath(childPath(rt.path, "associations"), i)
				if !attachment(p, an) {
					continue
				}
				if prev, dup := assocBy[an]; dup {
					c.errorf(p, "", "attachment %q is already associated with route table %q (an attachment has one route table)", an, prev)
					continue
				}
				assocBy[an] = rn
				t.atts[an].table = rn
			}
			for i, an := range rs.Propagations {
				p := indexPath(childPath(rt.path, "propagations"), i)
				if !attachment(p, an) || slices.Contains(t.atts[an].propagations, rn) {
					continue
				}
				propagates[an] = true
				t.atts[an].propagations = append(t.atts[an].propagations, rn)
			}
			for i, r := range rs.Routes {
				p := indexPath(childPath(rt.path, "routes"), i)
				ri := tgwRouteInfo{dst: c.parsePrefix(p, "destination", "destination", r.Destination)}
				switch {
				case r.Target == "":
					c.errorf(p, "target", "target is required")
					continue
				case r.Target == string(TargetBlackhole):
					ri.blackhole = true
				default:
					if _, ok := t.atts[r.Target]; !ok {
						c.errorf(p, "target", "target %q is not an attachment of transit gateway %q (use one of its attachments or blackhole)", r.Target, tn)
						continue
					}
					ri.att = r.Target
				}
				if !ri.dst.IsValid() {
					continue
				}
				if j := slices.IndexFunc(rt.routes, func(o tgwRouteInfo) bool { return o.dst == ri.dst }); j >= 0 {
					c.errorf(p, "destination", "destination %s is already routed by a static route of this table", ri.dst)
					continue
				}
				rt.routes = append(rt.routes, ri)
			}
		}
		for _, d := range []struct{ field, name string }{
			{"default_association_route_table", spec.DefaultAssociationRouteTable},
			{"default_propagation_route_table", spec.DefaultPropagationRouteTable},
		} {
			if d.name != "" && t.tables[d.name] == nil {
				c.errorf(t.path, d.field, "route table %q is not defined in transit gateway %q", d.name, tn)
			}
		}
		for _, an := range t.attOrder {
			a := t.atts[an]
			if a.table == "" && t.tables[spec.DefaultAssociationRouteTable] != nil {
				a.table = spec.DefaultAssociationRouteTable
			}
			if !propagates[an] && t.tables[spec.DefaultPropagationRouteTable] != nil {
				a.propagations = []string{spec.DefaultPropagationRouteTable}
			}
			slices.Sort(a.propagations)
			if a.table != "" {
				t.tables[a.table].associations = append(t.tables[a.table].associations, an)
			}
			for _, rn := range a.propagations {
				t.tables[rn].propagations = append(t.tables[rn].propagations, an)
			}
		}
		for _, rt := range t.tables {
			slices.Sort(rt.associations)
			slices.Sort(rt.propagations)
		}
	}
}

// tgwENIs returns every attachment ENI, for address allocation.
func (c *checker) tgwENIs() []*eniInfo {
	var out []*eniInfo
	for _, tn := range keys(c, "transit_gateways", c.t.TransitGateways) {
		t := c.tgws[tn]
		if t == nil {
			continue
		}
		for _, an := range t.attOrder {
			out = append(out, t.atts[an].enis...)
		}
	}
	return out
}

// tgwTarget checks a VPC route's transit gateway target: the VPC must be
// attached to it.
func (c *checker) tgwTarget(v *vpcInfo, path, target string) bool {
	t := c.tgws[target]
	if t == nil || t.byVPC[v.name] == "" {
		c.errorf(path, "target", "vpc %q has no attachment to transit gateway %q: add one under transit_gateways.%s.attachments", v.name, target, target)
		return false
	}
	return true
}

// checkTGWPatterns warns about transit gateway designs that break
// inspection.
func (c *checker) checkTGWPatterns() {
	attachedTo := map[string][]string{} // vpc -> transit gateways, file order
	for _, tn := range keys(c, "transit_gateways", c.t.TransitGateways) {
		t := c.tgws[tn]
		if t == nil {
			continue
		}
		for _, an := range t.attOrder {
			a := t.atts[an]
			v := c.vpcs[a.vpc]
			if v == nil || t.byVPC[a.vpc] != an {
				continue
			}
			attachedTo[a.vpc] = append(attachedTo[a.vpc], tn)
			if n := len(attachedTo[a.vpc]); n > 1 && c.hasEndpoints(a.vpc) {
				c.warnf("§6.5, §6.6 #5", a.path, "vpc", "vpc %q, which has GWLB endpoints, is attached to transit gateways %s: transit gateways share no flow state, so the two directions of a flow that enter through different gateways reach different appliances (attach an inspection VPC to one transit gateway)", a.vpc, quoteList(attachedTo[a.vpc]))
			}
			if a.appliance || len(a.enis) < 2 {
				continue
			}
			for _, e := range a.enis {
				s := v.subnets[e.subnet]
				if s == nil || s.table == "" || v.tables[s.table] == nil {
					continue
				}
				if i := slices.IndexFunc(v.tables[s.table].routes, func(r routeInfo) bool { return r.kind == TargetEndpoint }); i >= 0 {
					r := v.tables[s.table].routes[i]
					c.warnf("§6.5, §6.6 #4", a.path, "", "appliance_mode_support is off, but attachment subnet %q routes %s to GWLB endpoint %q: the transit gateway keeps each direction of a flow in the AZ it entered in, so both directions of a cross-AZ flow reach different endpoints, GWLB nodes and appliances, which drop what they have no state for (set appliance_mode_support: true)", s.name, r.dst, r.target)
					break
				}
			}
		}
	}
}

// hasEndpoints reports whether vpc has GWLB endpoints.
func (c *checker) hasEndpoints(vpc string) bool {
	return len(c.t.VPCs[vpc].GWLBEndpoints) > 0
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, " and ")
}
