package fabric

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
)

// Route edits at run time. An edit makes a new snapshot with the changed
// table, checks it as the topology file's validation would have, compiles
// it against the running runtime (flow, NAT and acceptance state) and swaps
// it in with one atomic store: a frame being carried finishes on the
// configuration it started with, the next one takes the new routes, and
// established flows whose packets still reach their GWLB node or NAT
// gateway go on untouched.

// Route edit operations, as AWS names them (CreateRoute, ReplaceRoute,
// DeleteRoute).
const (
	RouteAdd     = "add"
	RouteReplace = "replace"
	RouteDelete  = "delete"
)

// MaxRoutesPerTable is the most routes a table may hold, as in the
// topology file.
const MaxRoutesPerTable = 1000

// RouteEdit is one change to a route table.
type RouteEdit struct {
	Op string // RouteAdd, RouteReplace or RouteDelete
	// VPC names the table's VPC; it may be empty when only one VPC has a
	// table of that name.
	VPC         string
	Table       string
	Destination netip.Prefix
	// Target is local, blackhole, or the name of the VPC's internet
	// gateway, of one of its NAT gateways, GWLB endpoints or instances, or
	// of a transit gateway it is attached to.
	// A delete needs none; one that names a target deletes the route only
	// if it goes there.
	Target string
}

// RouteTable is a route table of the running configuration.
type RouteTable struct {
	VPC  string
	Name string
	// Edge is the internet gateway the table is associated with, empty
	// for a subnet route table; Subnets are the subnets that use it.
	Edge    string
	Subnets []string
	// Routes lists the table's routes, the implicit local ones included.
	Routes []Route
}

// Route is one route of a RouteTable.
type Route struct {
	Destination netip.Prefix
	Kind        string // a config.Target* kind
	Target      string // empty for local and blackhole
	// Implicit marks the local route every table has for each VPC CIDR.
	Implicit bool
}

// RouteTables lists the running configuration's route tables, by VPC and
// in the VPC's order.
func (f *Fabric) RouteTables() []RouteTable {
	s := f.lab.Load().snap
	var out []RouteTable
	for _, v := range s.VPCs {
		for _, rc := range v.RouteTables {
			rt := RouteTable{VPC: v.Name, Name: rc.Name}
			if rc.Name == v.EdgeRouteTable {
				rt.Edge = v.InternetGateway
			}
			for _, sn := range v.Subnets {
				if sn.RouteTable == rc.Name {
					rt.Subnets = append(rt.Subnets, sn.Name)
				}
			}
			explicit := map[netip.Prefix]bool{}
			for _, r := range rc.Routes {
				rt.Routes = append(rt.Routes, Route{Destination: r.Destination, Kind: r.Kind, Target: r.Target})
				explicit[r.Destination.Masked()] = true
			}
			for _, c := range v.CIDRs {
				if !explicit[c.Masked()] {
					rt.Routes = append(rt.Routes, Route{Destination: c.Masked(), Kind: config.TargetLocal, Implicit: true})
				}
			}
			out = append(out, rt)
		}
	}
	return out
}

// EditRoute applies one route edit and returns the table as it now is. An
// edit the lab refuses is ErrInvalid (a bad destination, target or
// operation) or ErrNotFound (no such table, or no route to replace or
// delete), with a message that says why, and changes nothing.
func (f *Fabric) EditRoute(e RouteEdit) (RouteTable, error) {
	f.edits.Lock()
	defer f.edits.Unlock()
	cur := f.lab.Load().snap
	vi, ti, err := findTable(cur, e.VPC, e.Table)
	if err != nil {
		return RouteTable{}, err
	}
	v := cur.VPCs[vi]
	r, err := checkRouteEdit(cur, v, e)
	if err != nil {
		return RouteTable{}, err
	}
	routes := slices.Clone(v.RouteTables[ti].Routes)
	at := slices.IndexFunc(routes, func(x config.Route) bool { return x.Destination.Masked() == r.Destination })
	isCIDR := slices.Contains(v.CIDRs, r.Destination)
	where := fmt.Sprintf("route table %q of vpc %q", v.RouteTables[ti].Name, v.Name)
	switch e.Op {
	case RouteAdd:
		if at >= 0 || isCIDR {
			return RouteTable{}, fmt.Errorf("%w: %s already has a route for %s (replace it instead)", ErrInvalid, where, r.Destination)
		}
		if len(routes) >= MaxRoutesPerTable {
			return RouteTable{}, fmt.Errorf("%w: %s already holds %d routes, the most a table may", ErrInvalid, where, MaxRoutesPerTable)
		}
		routes = append(routes, r)
	case RouteReplace:
		switch {
		case at >= 0:
			routes[at] = r
		case isCIDR:
			// The implicit local route becomes explicit; replacing it
			// with local again changes nothing.
			if r.Kind != config.TargetLocal {
				routes = append(routes, r)
			}
		default:
			return RouteTable{}, fmt.Errorf("%s has no route for %s to replace (add it instead): %w", where, r.Destination, ErrNotFound)
		}
		if at >= 0 && isCIDR && r.Kind == config.TargetLocal {
			routes = slices.Delete(routes, at, at+1) // back to the implicit one
		}
	case RouteDelete:
		switch {
		case at >= 0 && r.Kind != "" && (routes[at].Kind != r.Kind || routes[at].Target != r.Target):
			return RouteTable{}, fmt.Errorf("%w: %s routes %s to %s, not to %s: nothing deleted", ErrInvalid, where, r.Destination, targetName(routes[at]), e.Target)
		case at >= 0:
			routes = slices.Delete(routes, at, at+1)
		case isCIDR:
			return RouteTable{}, fmt.Errorf("%w: the local route for %s cannot be deleted", ErrInvalid, r.Destination)
		default:
			return RouteTable{}, fmt.Errorf("%s has no route for %s: %w", where, r.Destination, ErrNotFound)
		}
	}
	next := withRoutes(cur, vi, ti, routes)
	if err := next.Validate(); err != nil {
		return RouteTable{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	l, err := compile(next, f.rt, f.portMap())
	if err != nil {
		return RouteTable{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	f.lab.Store(l)
	for _, t := range f.RouteTables() {
		if t.VPC == v.Name && t.Name == e.Table {
			return t, nil
		}
	}
	return RouteTable{}, fmt.Errorf("route table %q vanished", e.Table) // cannot happen
}

// Snapshot returns the running configuration, runtime edits included. The
// caller must not change it.
func (f *Fabric) Snapshot() *config.Snapshot { return f.lab.Load().snap }

// findTable finds a table by name, in vpc when it is set.
func findTable(s *config.Snapshot, vpc, table string) (vi, ti int, err error) {
	vi, ti = -1, -1
	var in []string
	for i, v := range s.VPCs {
		if vpc != "" && v.Name != vpc {
			continue
		}
		for j, rt := range v.RouteTables {
			if rt.Name == table {
				vi, ti = i, j
				in = append(in, v.Name)
			}
		}
	}
	switch {
	case vpc != "" && !slices.ContainsFunc(s.VPCs, func(v config.VPC) bool { return v.Name == vpc }):
		return 0, 0, fmt.Errorf("vpc %q: %w", vpc, ErrNotFound)
	case len(in) == 0 && vpc != "":
		return 0, 0, fmt.Errorf("route table %q in vpc %q: %w", table, vpc, ErrNotFound)
	case len(in) == 0:
		return 0, 0, fmt.Errorf("route table %q: %w", table, ErrNotFound)
	case len(in) > 1:
		return 0, 0, fmt.Errorf("%w: route table %q is in vpcs %v: name the vpc", ErrInvalid, table, in)
	}
	return vi, ti, nil
}

// withRoutes returns a copy of s whose table ti of vpc vi holds routes;
// everything else is shared with s, which stays as it was.
func withRoutes(s *config.Snapshot, vi, ti int, routes []config.Route) *config.Snapshot {
	next := *s
	next.VPCs = slices.Clone(s.VPCs)
	v := &next.VPCs[vi]
	v.RouteTables = slices.Clone(v.RouteTables)
	v.RouteTables[ti].Routes = routes
	return &next
}

// checkRouteEdit checks an edit's operation, destination and target by the
// rules the topology file's validation applies (spec §6.2), and returns the
// route it names.
func checkRouteEdit(s *config.Snapshot, v config.VPC, e RouteEdit) (config.Route, error) {
	bad := func(format string, args ...any) (config.Route, error) {
		return config.Route{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
	}
	switch e.Op {
	case RouteAdd, RouteReplace, RouteDelete:
	default:
		return bad("route operation %q is not add, replace or delete", e.Op)
	}
	d := e.Destination
	if !d.IsValid() {
		return bad("a destination CIDR is required")
	}
	if d != d.Masked() {
		return bad("destination %s has host bits set: did you mean %s?", d, d.Masked())
	}
	var block netip.Prefix
	for _, c := range v.CIDRs {
		if c.Addr().Is6() == d.Addr().Is6() {
			block = c
		}
	}
	if !block.IsValid() {
		return bad("destination %s is IPv6 but vpc %q has no IPv6 cidr", d, v.Name)
	}
	r := config.Route{Destination: d}
	if e.Op == RouteDelete && e.Target == "" {
		return r, nil
	}
	switch e.Target {
	case "":
		return bad("a target is required: local, blackhole, or the name of an internet gateway, NAT gateway, GWLB endpoint or instance of vpc %q, or of a transit gateway it is attached to", v.Name)
	case config.TargetLocal:
		r.Kind = config.TargetLocal
	case config.TargetBlackhole:
		r.Kind = config.TargetBlackhole
	default:
		r.Kind, r.Target = targetKind(s, v, e.Target), e.Target
		if r.Kind == "" {
			if other := vpcOf(s, e.Target); other != "" && other != v.Name {
				return bad("target %q belongs to vpc %q, not to vpc %q", e.Target, other, v.Name)
			}
			return bad("target %q is not defined in vpc %q (local, blackhole, or the name of an internet gateway, NAT gateway, GWLB endpoint, instance or transit gateway the vpc is attached to)", e.Target, v.Name)
		}
	}
	if e.Op == RouteDelete {
		return r, nil // the target only has to match the route's
	}
	isLocal := d == block
	inside := block.Contains(d.Addr()) && d.Bits() >= block.Bits()
	if r.Kind == config.TargetLocal && !isLocal {
		return bad("target local only routes the vpc's own cidr %s", block)
	}
	if v.EdgeRouteTable == e.Table {
		if !inside {
			return bad("destination %s is outside vpc cidr %s: a gateway route table only routes traffic into the vpc (spec §6.2)", d, block)
		}
		switch r.Kind {
		case config.TargetLocal, config.TargetEndpoint, config.TargetInstance, config.TargetBlackhole:
		default:
			return bad("target %q: a gateway route table can only target local, a GWLB endpoint or an instance (spec §6.2)", e.Target)
		}
	}
	switch {
	case isLocal:
		if r.Kind == config.TargetIGW || r.Kind == config.TargetBlackhole || r.Kind == config.TargetTGW {
			return bad("the vpc cidr %s can only be routed to local, a NAT gateway, a GWLB endpoint or an instance (spec §6.2)", block)
		}
	case inside:
		if r.Kind == config.TargetIGW || r.Kind == config.TargetTGW {
			return bad("a route more specific than the vpc cidr %s must target a NAT gateway, a GWLB endpoint or an instance (spec §6.2)", block)
		}
		if !slices.ContainsFunc(v.Subnets, func(sn config.Subnet) bool { return sn.CIDR == d || sn.IPv6CIDR == d }) {
			return bad("destination %s is more specific than vpc cidr %s and must equal a whole subnet cidr (spec §6.2)", d, block)
		}
	}
	return r, nil
}

// targetKind is the kind of a named route target of vpc v, "" when v has
// no such target. GWLB nodes are ENIs of the VPC but no route target.
func targetKind(s *config.Snapshot, v config.VPC, name string) string {
	if name == v.InternetGateway && name != "" {
		return config.TargetIGW
	}
	if slices.ContainsFunc(v.NATGateways, func(n config.NATGateway) bool { return n.Name == name }) {
		return config.TargetNAT
	}
	for _, t := range s.TransitGateways {
		if t.Name == name && slices.ContainsFunc(t.Attachments, func(a config.TGWAttachment) bool { return a.VPC == v.Name }) {
			return config.TargetTGW
		}
	}
	if slices.ContainsFunc(v.Endpoints, func(ep config.Endpoint) bool { return ep.Name == name }) {
		return config.TargetEndpoint
	}
	for _, g := range s.GWLBs {
		for _, n := range g.Nodes {
			if n.Name == name {
				return ""
			}
		}
	}
	for _, sn := range v.Subnets {
		for _, e := range sn.ENIs {
			if e.Node == name {
				return config.TargetInstance
			}
		}
	}
	return ""
}

// targetName is a route's target as a user names it.
func targetName(r config.Route) string {
	if r.Target != "" {
		return r.Target
	}
	return r.Kind
}

// vpcOf names the VPC of a route target, "" when no VPC has it.
func vpcOf(s *config.Snapshot, name string) string {
	for _, v := range s.VPCs {
		if targetKind(s, v, name) != "" {
			return v.Name
		}
	}
	return ""
}

// RestoreRoutes sets the routes of a table of vpc (those a topology file
// lists: not the implicit local ones) to routes, as they were when an
// emulator that ran before saved them. They are checked as a whole, as a
// configuration is, not route by route.
func (f *Fabric) RestoreRoutes(vpc, table string, routes []config.Route) error {
	f.edits.Lock()
	defer f.edits.Unlock()
	cur := f.lab.Load().snap
	vi, ti, err := findTable(cur, vpc, table)
	if err != nil {
		return err
	}
	next := withRoutes(cur, vi, ti, slices.Clone(routes))
	if err := next.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	l, err := compile(next, f.rt, f.portMap())
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	f.lab.Store(l)
	return nil
}
