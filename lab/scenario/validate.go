package scenario

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// Validate checks a parsed scenario: its topology (with topology.Validate;
// a topology with errors stops the checks there), then every step against
// it. It returns every finding sorted by line; the scenario is valid when
// none is an error. ctx bounds the reading of topology_file.
func Validate(ctx context.Context, f *File) Diagnostics {
	c := &checker{f: f, s: &f.Scenario, labels: map[string]label{}}
	c.run(ctx)
	slices.SortStableFunc(c.diags, func(a, b topology.Diagnostic) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Severity, b.Severity), cmp.Compare(a.Message, b.Message))
	})
	return c.diags
}

// Check parses, validates and returns the scenario at path; an *Error when
// it has errors. Warnings come back with a valid file.
func Check(ctx context.Context, path string) (*File, Diagnostics, error) {
	f, err := Load(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	diags := Validate(ctx, f)
	if diags.HasErrors() {
		return nil, diags, &Error{Diagnostics: diags}
	}
	return f, diags, nil
}

type checker struct {
	f     *File
	s     *Scenario
	diags Diagnostics

	lab     *topology.Lab
	targets map[string][]Target // by target id and by node name
	routes  map[tableRef]map[netip.Prefix]bool
	reasons map[string]bool
	labels  map[string]label // traffic labels defined so far
}

type tableRef struct{ vpc, table string }

// label is a traffic step's name.
type label struct {
	path       string
	background bool
}

func (c *checker) errorf(path, format string, args ...any) {
	c.add(topology.SeverityError, path, format, args...)
}

func (c *checker) warnf(path, format string, args ...any) {
	c.add(topology.SeverityWarning, path, format, args...)
}

func (c *checker) add(sev topology.Severity, path, format string, args ...any) {
	c.diags = append(c.diags, topology.Diagnostic{Severity: sev, Path: path, Line: c.f.Line(path), Message: fmt.Sprintf(format, args...)})
}

func child(parent, key string) string { return topology.ChildPath(parent, key) }

func (c *checker) run(ctx context.Context) {
	if strings.TrimSpace(c.s.Name) == "" {
		c.errorf("name", "name is required: a short name for reports")
	} else if strings.ContainsAny(c.s.Name, "\n\r") || len(c.s.Name) > 100 {
		c.errorf("name", "name must be one line of at most 100 characters")
	}
	c.lab = c.checkTopology(ctx)
	if len(c.s.Steps) == 0 {
		if c.f.written("steps[0]") {
			// [null]: the decoder keeps no item, the file has one.
			c.errorf("steps[0]", "a step needs one of %s", strings.Join(stepKeys, ", "))
			return
		}
		c.errorf("steps", "steps is required: a scenario needs at least one step")
		return
	}
	if c.lab == nil {
		return
	}
	c.index()
	expects := false
	for i := range c.s.Steps {
		path := topology.IndexPath("steps", i)
		if c.checkStep(path, &c.s.Steps[i]) == "expect" {
			expects = true
		}
	}
	if !expects {
		c.warnf("steps", "the scenario expects nothing: add an expect step, or it can only fail by a wait's timeout")
	}
}

// index builds the lookups the steps are checked with.
func (c *checker) index() {
	c.targets = map[string][]Target{}
	for _, g := range c.lab.GWLBs {
		for _, t := range g.TargetGroup.Targets {
			r := Target{GWLB: g.Name, ID: t.ID, Node: t.Node}
			c.targets[t.ID] = append(c.targets[t.ID], r)
			if t.Node != t.ID {
				c.targets[t.Node] = append(c.targets[t.Node], r)
			}
		}
	}
	c.routes = map[tableRef]map[netip.Prefix]bool{}
	for _, v := range c.lab.VPCs {
		for _, t := range v.RouteTables {
			r := tableRef{v.Name, t.Name}
			c.routes[r] = map[netip.Prefix]bool{}
			for _, rt := range t.Routes {
				c.routes[r][rt.Destination] = true
			}
		}
	}
	c.reasons = dropReasons()
}

var stepKeys = []string{"traffic", "fault", "route", "asg", "wait", "expect"}

// set returns which of keys the mapping at path sets.
func (c *checker) set(path string, keys []string) []string {
	var out []string
	for _, k := range keys {
		if c.f.written(child(path, k)) {
			out = append(out, k)
		}
	}
	return out
}

// exactlyOne reports the key of the one field of the mapping at path that
// is set, or records why there is not exactly one.
func (c *checker) exactlyOne(path, what string, keys []string) (string, bool) {
	set := c.set(path, keys)
	switch len(set) {
	case 1:
		return set[0], true
	case 0:
		c.errorf(path, "%s needs one of %s", what, strings.Join(keys, ", "))
	default:
		c.errorf(child(path, set[1]), "%s holds exactly one of %s; this one sets %s: split it", what, strings.Join(keys, ", "), strings.Join(set, " and "))
	}
	return "", false
}

// checkStep checks one step and returns its kind ("" when it has none).
func (c *checker) checkStep(path string, st *StepSpec) string {
	key, ok := c.exactlyOne(path, "a step", stepKeys)
	if !ok {
		return ""
	}
	p := child(path, key)
	switch key {
	case "traffic":
		if st.Traffic == nil {
			c.errorf(p, "traffic is empty: give at least from and to")
			break
		}
		c.checkTraffic(p, st.Traffic)
	case "fault":
		if st.Fault == nil {
			c.errorf(p, "fault is empty: give one of %s", strings.Join(faultKeys, ", "))
			break
		}
		c.checkFault(p, st.Fault)
	case "route":
		if st.Route == nil {
			c.errorf(p, "route is empty: give table, action, destination and target")
			break
		}
		c.checkRoute(p, st.Route)
	case "asg":
		if st.ASG == nil {
			c.errorf(p, "asg is empty: give name and desired")
			break
		}
		c.checkASGAction(p, st.ASG)
	case "wait":
		if st.Wait == nil {
			c.errorf(p, "wait is empty: give one of %s", strings.Join(waitKeys, ", "))
			break
		}
		c.checkWait(p, st.Wait)
	case "expect":
		if len(st.Expect) == 0 {
			c.errorf(p, "expect is empty: list at least one expectation")
			break
		}
		for j := range st.Expect {
			c.checkExpectation(topology.IndexPath(p, j), &st.Expect[j])
		}
	}
	return key
}

// Protocols of traffic and probes.
var protocols = []string{"http", "tcp", "udp", "icmp"}

// endpoint describes where traffic goes, for checkFlow.
type endpoint struct {
	from, to, protocol string
	port               *int
}

// checkFlow checks the from, to, protocol and port of traffic or a probe.
func (c *checker) checkFlow(path string, e endpoint) {
	fp := child(path, "from")
	if e.from == "" {
		c.errorf(fp, "from is required: the node that starts the traffic")
	} else if n := c.node(fp, e.from); n != nil && n.Kind == topology.NodeGWLB {
		c.errorf(fp, "%q is a GWLB node: traffic starts at an instance or an internet host", e.from)
	}
	tp := child(path, "to")
	if e.to == "" {
		c.errorf(tp, "to is required: an address, or an instance or internet host")
	} else if _, err := Destination(c.lab, e.from, e.to); err != nil {
		c.errorf(tp, "%v", err)
	}
	proto := e.protocol
	if proto == "" {
		proto = "http"
	} else if !contains(protocols, proto) {
		c.errorf(child(path, "protocol"), "protocol %q is not one of %s", proto, strings.Join(protocols, ", "))
		return
	}
	if e.port != nil {
		pp := child(path, "port")
		switch {
		case proto == "icmp":
			c.errorf(pp, "icmp has no port: leave port out")
		case *e.port < 1 || *e.port > 65535:
			c.errorf(pp, "port %d is not between 1 and 65535", *e.port)
		}
	}
}

// node returns the lab node named name, or records that there is none.
func (c *checker) node(path, name string) *topology.Node {
	n, err := ResolveNode(c.lab, name)
	if err != nil {
		c.errorf(path, "%v", err)
	}
	return n
}

// list joins names for a message, at most 12 of them.
func list(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	if len(names) > 12 {
		return strings.Join(names[:12], ", ") + fmt.Sprintf(" and %d more", len(names)-12)
	}
	return strings.Join(names, ", ")
}

// duration parses a duration written at path; zero reports whether 0 is
// allowed. It returns false (after recording why) when it does not parse.
func (c *checker) duration(path, s string, zero bool) (time.Duration, bool) {
	d, err := ParseDuration(s, 0)
	if err != nil {
		c.errorf(path, "%v", err)
		return 0, false
	}
	switch {
	case d < 0 || (d == 0 && !zero):
		c.errorf(path, "%s must be more than 0", s)
		return 0, false
	case d > maxDuration:
		c.errorf(path, "%s is longer than %s, the longest a step may take", s, maxDuration)
		return 0, false
	}
	return d, true
}

// maxDuration bounds every duration of a scenario.
const maxDuration = 24 * time.Hour

func (c *checker) checkTraffic(path string, t *TrafficSpec) {
	if t.Name != "" {
		if prev, dup := c.labels[t.Name]; dup {
			c.errorf(child(path, "name"), "traffic name %q is already used at %s (line %d)", t.Name, prev.path, c.f.Line(prev.path))
		} else {
			c.labels[t.Name] = label{path: child(path, "name"), background: t.Background}
		}
	} else if t.Background {
		c.warnf(child(path, "background"), "background traffic without a name: no wait or expectation can refer to it")
	}
	c.checkFlow(path, endpoint{t.From, t.To, t.Protocol, t.Port})
	if t.Flows != nil && (*t.Flows < 1 || *t.Flows > 10000) {
		c.errorf(child(path, "flows"), "flows %d is not between 1 and 10000", *t.Flows)
	}
	if t.Size != nil && *t.Size < 1 {
		c.errorf(child(path, "size"), "size %d must be at least 1 byte", *t.Size)
	}
	if t.Duration != "" {
		c.duration(child(path, "duration"), t.Duration, false)
		if t.Size != nil {
			c.errorf(child(path, "duration"), "set size or duration, not both")
		}
	}
	if t.Interval != "" {
		if t.Duration == "" {
			c.errorf(child(path, "interval"), "interval goes with duration: it spaces the sends of a flow that lasts")
		} else {
			c.duration(child(path, "interval"), t.Interval, false)
		}
	}
	if t.Protocol == "icmp" && t.Size != nil && *t.Size > 65507 {
		c.errorf(child(path, "size"), "an ICMP echo carries at most 65507 bytes, not %d", *t.Size)
	}
}

var faultKeys = []string{"node_stop", "node_start", "node_restart", "node_pause", "node_unpause", "health_fail", "health_clear", "deregister", "register", "link"}

func (c *checker) checkFault(path string, f *FaultSpec) {
	key, ok := c.exactlyOne(path, "a fault", faultKeys)
	if !ok {
		return
	}
	p := child(path, key)
	value := map[string]string{
		"node_stop": f.NodeStop, "node_start": f.NodeStart, "node_restart": f.NodeRestart,
		"node_pause": f.NodePause, "node_unpause": f.NodeUnpause,
		"health_fail": f.HealthFail, "health_clear": f.HealthClear,
		"deregister": f.Deregister, "register": f.Register,
	}[key]
	switch key {
	case "node_stop", "node_start", "node_restart", "node_pause", "node_unpause":
		if value == "" {
			c.errorf(p, "%s needs a node name", key)
			return
		}
		n := c.node(p, value)
		switch {
		case n == nil:
		case n.Kind == topology.NodeGWLB:
			c.errorf(p, "%q is a GWLB node, which runs no program of its own: stop its targets, or fail their health checks", value)
		case n.Run == nil:
			c.errorf(p, "node %q runs no program (no run section): there is nothing to %s", value, strings.TrimPrefix(key, "node_"))
		}
	case "health_fail", "health_clear", "deregister", "register":
		if value == "" {
			c.errorf(p, "%s needs a target", key)
			return
		}
		c.target(p, value)
	case "link":
		if f.Link == nil {
			c.errorf(p, "link is empty: give node and at least one of down, loss, delay")
			return
		}
		c.checkLink(p, f.Link)
	}
}

func (c *checker) checkLink(path string, l *LinkSpec) {
	if l.Node == "" {
		c.errorf(child(path, "node"), "node is required: the node whose link is impaired")
	} else {
		c.node(child(path, "node"), l.Node)
	}
	if len(c.set(path, []string{"down", "loss", "delay", "jitter"})) == 0 {
		c.errorf(path, "link changes nothing: give at least one of down, loss, delay and jitter")
	}
	if l.Loss != nil && !(*l.Loss >= 0 && *l.Loss <= 100) {
		c.errorf(child(path, "loss"), "loss %v is not a percentage between 0 and 100", *l.Loss)
	}
	var delay, jitter time.Duration
	delayOK, jitterOK := true, true
	if l.Delay != "" {
		delay, delayOK = c.duration(child(path, "delay"), l.Delay, true)
	}
	if l.Jitter != "" {
		jitter, jitterOK = c.duration(child(path, "jitter"), l.Jitter, true)
		switch {
		case l.Delay == "":
			c.errorf(child(path, "jitter"), "jitter needs delay: it varies the delay")
		case delayOK && jitterOK && jitter > delay:
			c.errorf(child(path, "jitter"), "jitter %s is more than the delay %s: a frame cannot leave before it was sent", l.Jitter, l.Delay)
		}
	}
}

// target resolves a registered target (NAME or GWLB/NAME), recording why
// it cannot.
func (c *checker) target(path, name string) (Target, bool) {
	t, err := ResolveTarget(c.lab, name)
	if err != nil {
		c.errorf(path, "%v", err)
		return Target{}, false
	}
	return t, true
}

var routeActions = []string{"add", "replace", "delete"}

func (c *checker) checkRoute(path string, r *RouteEditSpec) {
	tp := child(path, "table")
	var table *topology.RouteTable
	var vpc *topology.VPC
	if r.Table == "" {
		c.errorf(tp, "table is required: the route table to edit")
	} else {
		vpc, table = c.table(tp, r.Table)
	}
	ap := child(path, "action")
	switch {
	case r.Action == "":
		c.errorf(ap, "action is required: one of %s", strings.Join(routeActions, ", "))
	case !contains(routeActions, r.Action):
		c.errorf(ap, "action %q is not one of %s", r.Action, strings.Join(routeActions, ", "))
	}
	dp := child(path, "destination")
	var dst netip.Prefix
	switch p, err := netip.ParsePrefix(r.Destination); {
	case r.Destination == "":
		c.errorf(dp, "destination is required: a prefix such as 0.0.0.0/0")
	case err != nil || p.Addr().Zone() != "":
		c.errorf(dp, "destination %q is not a prefix", r.Destination)
	case p != p.Masked():
		c.errorf(dp, "destination %q is not a prefix: did you mean %s?", r.Destination, p.Masked())
	default:
		dst = p
	}
	tgt := child(path, "target")
	if r.Action == "delete" {
		if r.Target != "" {
			c.errorf(tgt, "delete takes no target: leave target out")
		}
	} else if r.Target == "" && contains(routeActions, r.Action) {
		c.errorf(tgt, "target is required to %s a route", r.Action)
	}
	if table == nil {
		return
	}
	if dst.IsValid() {
		if dst.Addr().Is6() && !vpc.IPv6CIDR.IsValid() {
			c.errorf(dp, "destination %s is IPv6, but vpc %q has no ipv6_cidr", dst, vpc.Name)
		}
		ref := tableRef{vpc.Name, table.Name}
		has := c.routes[ref][dst]
		switch {
		case r.Action == "add" && has:
			c.errorf(dp, "route table %q already has a route to %s by then: use action replace", table.Name, dst)
		case (r.Action == "replace" || r.Action == "delete") && !has:
			c.errorf(dp, "route table %q has no route to %s by then: use action add", table.Name, dst)
		case r.Action == "delete" && (dst == vpc.CIDR || dst == vpc.IPv6CIDR):
			c.errorf(dp, "the local route to %s cannot be deleted (replace its target instead)", dst)
		case r.Action == "add" || r.Action == "replace":
			c.routes[ref][dst] = true
		case r.Action == "delete":
			delete(c.routes[ref], dst)
		}
	}
	if r.Target != "" && r.Action != "delete" {
		c.checkRouteTarget(tgt, vpc, table, r.Target)
	}
}

// table resolves a route table (TABLE or VPC/TABLE), recording why it
// cannot.
func (c *checker) table(path, name string) (*topology.VPC, *topology.RouteTable) {
	v, t, err := ResolveTable(c.lab, name)
	if err != nil {
		c.errorf(path, "%v", err)
		return nil, nil
	}
	return v, t
}

// checkRouteTarget checks a route's target as the topology's validation
// does: something of the table's VPC, and for a gateway route table only
// local, an endpoint or an instance (spec §6.2).
func (c *checker) checkRouteTarget(path string, v *topology.VPC, t *topology.RouteTable, target string) {
	kind := topology.TargetKind("")
	switch {
	case target == string(topology.TargetLocal):
		kind = topology.TargetLocal
	case target == string(topology.TargetBlackhole):
		kind = topology.TargetBlackhole
	case v.InternetGateway != nil && v.InternetGateway.Name == target:
		kind = topology.TargetInternetGateway
	case slices.Contains(v.Instances, target):
		kind = topology.TargetInstance
	default:
		if _, ok := v.NATGateway(target); ok {
			kind = topology.TargetNATGateway
		} else if _, ok := v.Endpoint(target); ok {
			kind = topology.TargetEndpoint
		} else if tg, ok := c.lab.TransitGateway(target); ok && slices.ContainsFunc(tg.Attachments, func(a topology.TGWAttachment) bool { return a.VPC == v.Name }) {
			kind = topology.TargetTransitGateway
		}
	}
	if kind == "" {
		c.errorf(path, "target %q is not local, blackhole, or an internet gateway, NAT gateway, GWLB endpoint or instance of vpc %q, or a transit gateway it is attached to", target, v.Name)
		return
	}
	if t.EdgeAssociation != "" && kind != topology.TargetLocal && kind != topology.TargetEndpoint && kind != topology.TargetInstance {
		c.add(topology.SeverityError, path, "route table %q is a gateway route table (edge-associated with %s): its routes may target only local, a GWLB endpoint or an instance, not %s", t.Name, t.EdgeAssociation, target)
		c.diags[len(c.diags)-1].Spec = "§6.2"
	}
}

var waitKeys = []string{"target", "flows", "traffic", "asg", "duration"}

// TargetStates are the states a target can be waited for and expected in
// (spec §4.2).
var TargetStates = []string{"initial", "healthy", "unhealthy", "draining", "unused"}

func (c *checker) checkWait(path string, w *WaitSpec) {
	key, ok := c.exactlyOne(path, "a wait", waitKeys)
	sp := child(path, "state")
	if ok && key == "target" {
		if w.Target == "" {
			c.errorf(child(path, key), "target needs a target name")
		} else {
			c.target(child(path, key), w.Target)
		}
		c.checkState(sp, w.State, "a wait for a target")
	} else if c.f.written(sp) {
		c.errorf(sp, "state goes with target only")
	}
	for _, k := range []string{"in_service", "healthy"} {
		if kp := child(path, k); c.f.written(kp) && (!ok || key != "asg") {
			c.errorf(kp, "%s goes with asg only", k)
		}
	}
	if ok && key == "asg" {
		if g := c.group(child(path, key), w.ASG); g != nil {
			ip := child(path, "in_service")
			if w.InService == nil {
				c.errorf(child(path, key), "a wait for a group needs in_service: how many InService instances to wait for")
			} else if *w.InService > g.Max {
				c.errorf(ip, "in_service %d is above group %s's max (%d): the wait could never end", *w.InService, g.Name, g.Max)
			}
		}
	}
	tp := child(path, "timeout")
	if w.Timeout != "" {
		if ok && key == "duration" {
			c.errorf(tp, "a wait for a duration has no timeout")
		} else {
			c.duration(tp, w.Timeout, false)
		}
	}
	if !ok {
		return
	}
	p := child(path, key)
	switch key {
	case "flows":
		if w.Flows == nil || *w.Flows < 1 {
			c.errorf(p, "flows must be at least 1")
		}
	case "traffic":
		if l, ok := c.label(p, w.Traffic); ok && !l.background {
			c.errorf(p, "traffic %q does not run in the background: it has ended before the next step starts (set background: true on it)", w.Traffic)
		}
	case "duration":
		if w.Duration == "" {
			c.errorf(p, "duration needs a value, e.g. 30s")
		} else {
			c.duration(p, w.Duration, false)
		}
	}
}

func (c *checker) checkState(path, state, what string) {
	switch {
	case state == "":
		c.errorf(path, "%s needs state: one of %s", what, strings.Join(TargetStates, ", "))
	case !contains(TargetStates, state):
		c.errorf(path, "state %q is not one of %s", state, strings.Join(TargetStates, ", "))
	}
}

// label looks up the traffic label name defined by an earlier step.
func (c *checker) label(path, name string) (label, bool) {
	if name == "" {
		c.errorf(path, "traffic needs the name of an earlier traffic step")
		return label{}, false
	}
	l, ok := c.labels[name]
	if !ok {
		names := make([]string, 0, len(c.labels))
		for n := range c.labels {
			names = append(names, n)
		}
		slices.Sort(names)
		c.errorf(path, "no earlier traffic step is named %q (named so far: %s)", name, list(names))
	}
	return l, ok
}

var expectKeys = []string{"reaches", "blocked", "traverses", "bypasses", "symmetric", "one_target", "drop", "target", "asg"}

func (c *checker) checkExpectation(path string, e *ExpectationSpec) {
	key, ok := c.exactlyOne(path, "an expectation", expectKeys)
	if !ok {
		return
	}
	p := child(path, key)
	switch key {
	case "reaches", "blocked", "bypasses", "symmetric", "one_target":
		ref := map[string]*FlowRefSpec{"reaches": e.Reaches, "blocked": e.Blocked, "bypasses": e.Bypasses, "symmetric": e.Symmetric, "one_target": e.OneTarget}[key]
		if ref == nil {
			c.errorf(p, "%s needs traffic, or from and to", key)
			return
		}
		c.checkFlowRef(p, ref.Traffic, ref.Flows, endpoint{ref.From, ref.To, ref.Protocol, ref.Port})
	case "traverses":
		t := e.Traverses
		if t == nil {
			c.errorf(p, "traverses needs traffic, or from and to")
			return
		}
		c.checkFlowRef(p, t.Traffic, t.Flows, endpoint{t.From, t.To, t.Protocol, t.Port})
		if t.Appliance != "" {
			ap := child(p, "appliance")
			if n := c.node(ap, t.Appliance); n != nil && len(c.targets[n.Name]) == 0 {
				c.errorf(ap, "%q is not a target of any GWLB: no traffic reaches it through one", t.Appliance)
			}
		}
		c.checkDirections(child(p, "directions"), t.Directions)
	case "drop":
		d := e.Drop
		if d == nil {
			c.errorf(p, "drop needs reason, and rose or zero")
			return
		}
		rp := child(p, "reason")
		switch {
		case d.Reason == "":
			c.errorf(rp, "reason is required: a drop reason as gwlb-lab status names it")
		case !c.reasons[d.Reason]:
			c.errorf(rp, "%q is not a drop reason of the emulator (%s)", d.Reason, strings.Join(sortedKeys(c.reasons), ", "))
		}
		switch set := c.set(p, []string{"rose", "zero"}); len(set) {
		case 0:
			c.errorf(p, "drop needs rose (true or false) or zero (true or false)")
		case 2:
			c.errorf(child(p, "zero"), "set rose or zero, not both")
		}
	case "target":
		t := e.Target
		if t == nil {
			c.errorf(p, "target needs name and state")
			return
		}
		if t.Name == "" {
			c.errorf(child(p, "name"), "name is required: a registered target")
		} else {
			c.target(child(p, "name"), t.Name)
		}
		c.checkState(child(p, "state"), t.State, "a target expectation")
	case "asg":
		if e.ASG == nil {
			c.errorf(p, "asg needs name, and desired, in_service or traffic")
			return
		}
		c.checkASGExpect(p, e.ASG)
	}
}

// group looks up the Auto Scaling group name, or records why it cannot.
func (c *checker) group(path, name string) *topology.AutoScalingGroup {
	if name == "" {
		c.errorf(path, "an Auto Scaling group's name is required")
		return nil
	}
	if g, ok := c.lab.AutoScalingGroup(name); ok {
		return g
	}
	var names []string
	for _, g := range c.lab.AutoScalingGroups {
		names = append(names, g.Name)
	}
	if len(names) == 0 {
		c.errorf(path, "no Auto Scaling group %q: the lab has none (autoscaling_groups in its topology)", name)
	} else {
		c.errorf(path, "no Auto Scaling group %q; the lab's groups: %s", name, strings.Join(names, ", "))
	}
	return nil
}

// capacityIn checks that n is a capacity the group can have: within its
// min and max.
func (c *checker) capacityIn(path string, n int, g *topology.AutoScalingGroup, what string) {
	if n < g.Min || n > g.Max {
		c.errorf(path, "%s %d is outside group %s's min-max (%d-%d)", what, n, g.Name, g.Min, g.Max)
	}
}

func (c *checker) checkASGAction(path string, a *ASGActionSpec) {
	g := c.group(child(path, "name"), a.Name)
	dp := child(path, "desired")
	switch {
	case a.Desired == nil:
		c.errorf(dp, "desired is required: the group's new desired capacity")
	case g != nil:
		c.capacityIn(dp, *a.Desired, g, "desired capacity")
	}
}

func (c *checker) checkASGExpect(path string, a *ASGExpectSpec) {
	g := c.group(child(path, "name"), a.Name)
	if len(c.set(path, []string{"desired", "in_service", "traffic"})) == 0 {
		c.errorf(path, "asg needs desired, in_service or traffic: what to expect of the group")
	}
	if g != nil && a.Desired != nil {
		c.capacityIn(child(path, "desired"), *a.Desired, g, "desired capacity")
	}
	if g != nil && a.InService != nil && *a.InService > g.Max {
		c.errorf(child(path, "in_service"), "in_service %d is above group %s's max (%d)", *a.InService, g.Name, g.Max)
	}
	fp := child(path, "flows")
	switch {
	case a.Flows != "" && !contains([]string{"all", "some", "none"}, a.Flows):
		c.errorf(fp, "flows %q is not all, some or none", a.Flows)
	case c.f.written(fp) && !c.f.written(child(path, "traffic")):
		c.errorf(fp, "flows goes with traffic")
	}
	if c.f.written(child(path, "traffic")) {
		c.label(child(path, "traffic"), a.Traffic)
		if g != nil && len(g.TargetGroups) == 0 {
			c.errorf(child(path, "traffic"), "group %s registers its instances in no target group: no flow goes to them", g.Name)
		}
	}
}

// checkFlowRef checks traffic that is either a label or from and to.
func (c *checker) checkFlowRef(path, traffic, flows string, e endpoint) {
	direct := c.set(path, []string{"from", "to", "protocol", "port"})
	fp := child(path, "flows")
	switch {
	case flows != "" && flows != "all" && flows != "some":
		c.errorf(fp, "flows %q is not all or some", flows)
	case c.f.written(fp) && !c.f.written(child(path, "traffic")):
		c.errorf(fp, "flows goes with traffic: from and to name a single probe or every flow between them")
	}
	if c.f.written(child(path, "traffic")) {
		if len(direct) > 0 {
			c.errorf(child(path, direct[0]), "give traffic, or from and to, not both")
		}
		c.label(child(path, "traffic"), traffic)
		return
	}
	c.checkFlow(path, e)
}

// Directions an appliance sees a flow in.
var directions = []string{"forward", "return", "both"}

func (c *checker) checkDirections(path string, dirs []string) {
	seen := map[string]bool{}
	for i, d := range dirs {
		p := topology.IndexPath(path, i)
		switch {
		case !contains(directions, d):
			c.errorf(p, "direction %q is not one of %s", d, strings.Join(directions, ", "))
		case seen[d]:
			c.errorf(p, "direction %q is listed twice", d)
		case d == "both" && i > 0, d != "both" && seen["both"]:
			c.errorf(p, "both already means forward and return: list it alone")
		}
		seen[d] = true
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
