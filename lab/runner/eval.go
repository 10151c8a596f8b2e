package runner

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/lab/echo"
	"github.com/gwlb-lab/gwlb-lab/lab/scenario"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// maxEvidenceFlows is how many failing flows an expectation shows evidence
// for; maxTraceLines how many traced packets per flow.
const (
	maxEvidenceFlows = 3
	maxTraceLines    = 12
)

func (rn *run) expectStep(ctx context.Context, path string, exps []scenario.ExpectationSpec, sr *StepResult) error {
	now, err := rn.lab.Drops(ctx)
	if err != nil {
		return fmt.Errorf("read the drop counters: %w", err)
	}
	sr.Status = StatusPass
	for i, e := range exps {
		ep := fmt.Sprintf("%s.expect[%d]", path, i)
		er, err := rn.expect(ctx, e, now)
		er.Path, er.Line = ep, rn.f.Line(ep)
		if Unsupported(err) && rn.fr.Unsupported == "" {
			rn.fr.Unsupported = ep + ": " + err.Error()
		}
		sr.Expectations = append(sr.Expectations, er)
		switch er.Status {
		case StatusFail:
			if sr.Status == StatusPass {
				sr.Status = StatusFail
			}
		case StatusError:
			sr.Status = StatusFail
		}
	}
	rn.base = now
	return nil
}

func (rn *run) expect(ctx context.Context, e scenario.ExpectationSpec, drops map[string]uint64) (*ExpectResult, error) {
	er := &ExpectResult{}
	var err error
	switch {
	case e.Reaches != nil:
		er.Kind, er.Spec = "reaches", flowYAML(e.Reaches)
		err = rn.reaches(ctx, e.Reaches, true, er)
	case e.Blocked != nil:
		er.Kind, er.Spec = "blocked", flowYAML(e.Blocked)
		err = rn.reaches(ctx, e.Blocked, false, er)
	case e.Traverses != nil:
		er.Kind, er.Spec = "traverses", flowYAML(e.Traverses)
		err = rn.traverses(ctx, e.Traverses, er)
	case e.Bypasses != nil:
		er.Kind, er.Spec = "bypasses", flowYAML(e.Bypasses)
		err = rn.bypasses(ctx, e.Bypasses, er)
	case e.Symmetric != nil:
		er.Kind, er.Spec = "symmetric", flowYAML(e.Symmetric)
		err = rn.symmetric(ctx, e.Symmetric, er)
	case e.OneTarget != nil:
		er.Kind, er.Spec = "one_target", flowYAML(e.OneTarget)
		err = rn.oneTarget(ctx, e.OneTarget, er)
	case e.Drop != nil:
		er.Kind, er.Spec = "drop", flowYAML(e.Drop)
		rn.drop(e.Drop, drops, er)
	case e.Target != nil:
		er.Kind, er.Spec = "target", flowYAML(e.Target)
		err = rn.targetState(ctx, e.Target, er)
	case e.ASG != nil:
		er.Kind, er.Spec = "asg", flowYAML(e.ASG)
		err = rn.asgExpect(ctx, e.ASG, er)
	default:
		err = fmt.Errorf("an expectation needs one key")
	}
	if err != nil {
		er.Status, er.Error = StatusError, err.Error()
		if er.Observed == "" {
			er.Observed = "error: " + err.Error()
		}
	}
	return er, err
}

func judge(er *ExpectResult, ok bool) {
	if ok {
		er.Status = StatusPass
	} else {
		er.Status = StatusFail
	}
}

// --- the flows an expectation is about

// observed is one flow of the traffic an expectation names, with what the
// GWLB saw of it.
type observed struct {
	result *echo.FlowResult // nil for flows selected by from and to
	label  string           // the flow as the report names it
	// entries are the GWLB flows that are this flow, fwd[i] whether
	// entries[i].Src is the side that started it.
	entries []Flow
	fwd     []bool
	t       *trafficRun
}

// ref is a FlowRefSpec or the traffic part of a TraversesSpec.
type ref struct {
	traffic, from, to, protocol string
	port                        *int
	flows                       string
}

func refOf(f *scenario.FlowRefSpec) ref {
	return ref{f.Traffic, f.From, f.To, f.Protocol, f.Port, f.Flows}
}

func (r ref) some() bool { return r.flows == "some" }

// quantifier says how many flows must meet an expectation.
func (r ref) quantifier() string {
	if r.some() {
		return "at least one flow"
	}
	return "every flow"
}

// named returns the traffic run a label names, waiting for it to end.
func (rn *run) named(ctx context.Context, name string) (*trafficRun, error) {
	t, ok := rn.traffic[name]
	if !ok {
		return nil, fmt.Errorf("no traffic named %q has run", name)
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if t.err != nil {
		return nil, t.err
	}
	return t, nil
}

// flowsOf returns the flows an expectation is about: each flow of the
// named traffic matched with the GWLB's flows, or (from and to) the GWLB
// flows between from's private address and to.
func (rn *run) flowsOf(ctx context.Context, r ref) ([]*observed, error) {
	if r.traffic != "" {
		t, err := rn.named(ctx, r.traffic)
		if err != nil {
			return nil, err
		}
		return rn.match(t), nil
	}
	from, err := scenario.ResolveNode(rn.topo, r.from)
	if err != nil {
		return nil, err
	}
	dest, err := scenario.Destination(rn.topo, r.from, r.to)
	if err != nil {
		return nil, err
	}
	proto, port := protocolOf(r.protocol, r.port)
	fl, err := rn.lab.Flows(ctx)
	if err != nil {
		return nil, err
	}
	src := []netip.Addr{from.Interface.Addr.Addr(), from.Interface.Addr6.Addr()}
	dst := append([]netip.Addr{dest}, rn.aliases(dest)...)
	var out []*observed
	for _, f := range fl {
		if !protoMatches(proto, f.Proto) {
			continue
		}
		s, d := parseEnd(f.Src), parseEnd(f.Dst)
		fwd := slices.Contains(src, s.Addr()) && slices.Contains(dst, d.Addr()) && (port == 0 || d.Port() == uint16(port))
		rev := slices.Contains(src, d.Addr()) && slices.Contains(dst, s.Addr()) && (port == 0 || s.Port() == uint16(port))
		if !fwd && !rev {
			continue
		}
		out = append(out, &observed{label: f.Src + " -> " + f.Dst, entries: []Flow{f}, fwd: []bool{fwd}})
	}
	return out, nil
}

func protoMatches(proto string, p uint8) bool {
	switch proto {
	case "http", "tcp":
		return p == 6
	case "udp":
		return p == 17
	case "icmp":
		return p == 1 || p == 58
	}
	return false
}

// parseEnd reads a flow end: address:port, or an address alone.
func parseEnd(s string) netip.AddrPort {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap
	}
	a, _ := netip.ParseAddr(s)
	return netip.AddrPortFrom(a, 0)
}

var natHop = regexp.MustCompile(`source (\S+) port (\d+) -> (\S+) port (\d+)`)

// translations returns, for every end of a flow, the ends it was
// translated to or from on the way: instances' public and private
// addresses (the internet gateway), and the NAT gateways' mappings seen
// in the trace.
func (rn *run) translations(t *trafficRun) map[netip.AddrPort][]netip.AddrPort {
	xl := map[netip.AddrPort][]netip.AddrPort{}
	for _, tr := range t.traces() {
		for _, h := range tr.Hops {
			m := natHop.FindStringSubmatch(h)
			if m == nil {
				continue
			}
			a, err1 := netip.ParseAddr(m[1])
			b, err2 := netip.ParseAddr(m[3])
			pa, _ := strconv.Atoi(m[2])
			pb, _ := strconv.Atoi(m[4])
			if err1 != nil || err2 != nil {
				continue
			}
			x, y := netip.AddrPortFrom(a, uint16(pa)), netip.AddrPortFrom(b, uint16(pb))
			xl[x] = append(xl[x], y)
			xl[y] = append(xl[y], x)
		}
	}
	return xl
}

// ends returns every name of a flow end: itself, its host's other
// addresses (same port), and its translations.
func (rn *run) ends(e netip.AddrPort, xl map[netip.AddrPort][]netip.AddrPort) []netip.AddrPort {
	out := []netip.AddrPort{e}
	for _, a := range rn.aliases(e.Addr()) {
		out = append(out, netip.AddrPortFrom(a, e.Port()))
	}
	for _, x := range slices.Clone(out) {
		out = append(out, xl[x]...)
	}
	return out
}

// keyedByPorts reports whether a GWLB flow's key holds the ports: the
// target group of its GWLB has 5-tuple stickiness.
func (rn *run) keyedByPorts(f Flow) bool {
	if rn.topo == nil {
		return true
	}
	g, ok := rn.topo.GWLB(f.GWLB)
	return !ok || g.TargetGroup.Stickiness == "" || g.TargetGroup.Stickiness == topology.FiveTuple
}

var (
	tracedEnds = regexp.MustCompile(`^\S+ (\S+) -> (\S+)`)
	gwlbNode   = regexp.MustCompile(`^gwlb node (\S+): `)
)

// nodesMet returns the GWLB nodes that the traced packets between the two
// ends (with ports, any of their names) went through.
func nodesMet(t *trafficRun, locals, remotes []netip.AddrPort) map[string]bool {
	nodes := map[string]bool{}
	for _, tr := range t.traces() {
		m := tracedEnds.FindStringSubmatch(tr.Packet)
		if m == nil {
			continue
		}
		a, err1 := netip.ParseAddrPort(m[1])
		b, err2 := netip.ParseAddrPort(m[2])
		if err1 != nil || err2 != nil {
			continue
		}
		if !(containsEnd(locals, a, true) && containsEnd(remotes, b, true)) && !(containsEnd(locals, b, true) && containsEnd(remotes, a, true)) {
			continue
		}
		for _, h := range tr.Hops {
			if m := gwlbNode.FindStringSubmatch(h); m != nil {
				nodes[m[1]] = true
			}
		}
	}
	return nodes
}

func containsEnd(set []netip.AddrPort, e netip.AddrPort, ports bool) bool {
	for _, x := range set {
		if x.Addr() == e.Addr() && (!ports || x.Port() == e.Port()) {
			return true
		}
	}
	return false
}

// localOf is a flow's own end: what the client reported, or (icmp) the
// node's address of the destination's family.
func localOf(t *trafficRun, fr *echo.FlowResult) netip.AddrPort {
	e := parseEnd(fr.Local)
	if e.Addr().IsValid() && !e.Addr().IsUnspecified() {
		return e
	}
	// A connection that failed names its port only.
	a := t.from.Interface.Addr.Addr()
	if t.dest.Is6() {
		a = t.from.Interface.Addr6.Addr()
	}
	return netip.AddrPortFrom(a, e.Port())
}

// match pairs each flow of a traffic run with the GWLB flows that are it.
func (rn *run) match(t *trafficRun) []*observed {
	xl := rn.translations(t)
	var out []*observed
	for i := range t.res.Flows {
		fr := &t.res.Flows[i]
		local := localOf(t, fr)
		remote := parseEnd(fr.Remote)
		ports := t.res.Protocol != "icmp"
		locals, remotes := rn.ends(local, xl), rn.ends(remote, xl)
		o := &observed{result: fr, t: t, label: flowLabel(t, fr)}
		var nodes map[string]bool // the GWLB nodes its packets met; nil: not looked up yet
		for _, f := range t.flows {
			if !protoMatches(t.res.Protocol, f.Proto) {
				continue
			}
			s, d := parseEnd(f.Src), parseEnd(f.Dst)
			// A GWLB flow of 3- or 2-tuple stickiness is keyed without
			// ports (it shows the ports of the connection that made it),
			// and all the connections of one address pair share it on a
			// node: of those the flow is only the ones on the nodes its
			// packets met.
			p := ports && rn.keyedByPorts(f)
			if ports && !p {
				if nodes == nil {
					nodes = nodesMet(t, locals, remotes)
				}
				if len(nodes) > 0 && !nodes[f.Node] {
					continue
				}
			}
			switch {
			case containsEnd(locals, s, p) && containsEnd(remotes, d, p):
				o.entries, o.fwd = append(o.entries, f), append(o.fwd, true)
			case containsEnd(locals, d, p) && containsEnd(remotes, s, p):
				o.entries, o.fwd = append(o.entries, f), append(o.fwd, false)
			}
		}
		out = append(out, o)
	}
	return out
}

func flowLabel(t *trafficRun, fr *echo.FlowResult) string {
	local := localOf(t, fr)
	l := local.String()
	if local.Port() == 0 {
		l = local.Addr().String()
	}
	return fmt.Sprintf("%s flow %s -> %s", fr.Protocol, l, fr.Remote)
}

// count applies an expectation's quantifier to flows that met it.
func count(r ref, met, total int) bool {
	if total == 0 {
		return false
	}
	if r.some() {
		return met > 0
	}
	return met == total
}

// --- reaches and blocked

func (rn *run) reaches(ctx context.Context, f *scenario.FlowRefSpec, want bool, er *ExpectResult) error {
	r := refOf(f)
	var t *trafficRun
	var err error
	if r.traffic != "" {
		t, err = rn.named(ctx, r.traffic)
	} else {
		// A new probe: one flow from from to to.
		spec := scenario.TrafficSpec{From: r.from, To: r.to, Protocol: r.protocol, Port: r.port}
		t, err = rn.startTraffic(ctx, spec)
		if err == nil {
			<-t.done
			err = t.err
		}
		r.flows = "all"
	}
	if err != nil {
		return err
	}
	total := len(t.res.Flows)
	met := 0
	var bad []*echo.FlowResult
	for i := range t.res.Flows {
		fr := &t.res.Flows[i]
		if fr.OK == want {
			met++
		} else {
			bad = append(bad, fr)
		}
	}
	word := "answered"
	if !want {
		word = "not answered"
	}
	er.Expected = fmt.Sprintf("%s %s", r.quantifier(), word)
	er.Observed = fmt.Sprintf("%d of %d flows answered", t.res.Answered, total)
	if kinds := failKinds(t.res.Flows); kinds != "" {
		er.Observed += " (" + kinds + ")"
	}
	judge(er, count(r, met, total))
	if er.Status == StatusFail {
		if r.some() {
			// No flow met it: all are the evidence.
			bad = nil
			for i := range t.res.Flows {
				bad = append(bad, &t.res.Flows[i])
			}
		}
		er.Evidence = rn.pathEvidence(t, bad)
	}
	return nil
}

func failKinds(fs []echo.FlowResult) string {
	n := map[string]int{}
	for _, f := range fs {
		if !f.OK {
			n[f.Error]++
		}
	}
	var parts []string
	for k, v := range n {
		parts = append(parts, fmt.Sprintf("%d %s", v, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// pathEvidence is, for each flow (a few), how it ended and the trace of
// its packets, then the drop counters that moved while the traffic ran.
func (rn *run) pathEvidence(t *trafficRun, flows []*echo.FlowResult) []string {
	var ev []string
	xl := rn.translations(t)
	shapes := map[string]bool{}
	like := 0
	for _, fr := range flows {
		how := "answered"
		if !fr.OK {
			how = fr.Error
			if fr.Detail != "" {
				how += ": " + fr.Detail
			}
		}
		line := fmt.Sprintf("%s: %s", flowLabel(t, fr), how)
		if fr.Exchanges > 0 {
			line += fmt.Sprintf(" (%d of %d exchanges answered)", fr.Answered, fr.Exchanges)
		}
		lines := rn.traceOf(t, fr, xl)
		if len(lines) == 0 {
			lines = []string{"  trace: no packet of this flow was traced"}
		}
		// Flows that went the same way (ports and retransmissions
		// aside) are shown once.
		shape := flowShape(how, lines)
		if shapes[shape] || len(shapes) == maxEvidenceFlows {
			like++
			continue
		}
		shapes[shape] = true
		ev = append(ev, line)
		ev = append(ev, lines...)
	}
	if like > 0 {
		ev = append(ev, fmt.Sprintf("(%d more flows like these)", like))
	}
	ev = append(ev, dropsLine(t.res.DropsMoved))
	return ev
}

// portNumbers matches the port of an address:port, and a retransmission
// count, which differ between flows that went the same way.
var portNumbers = regexp.MustCompile(`(\d+\.\d+\.\d+\.\d+|\]):\d+|  \(seen \d+ times\)|cookie [0-9a-f]+`)

// flowShape is a flow's evidence with what differs between flows of one
// kind taken out: flows of one shape failed in the same way.
func flowShape(how string, lines []string) string {
	return portNumbers.ReplaceAllString(how+"\n"+strings.Join(lines, "\n"), "$1")
}

func dropsLine(m map[string]uint64) string {
	if len(m) == 0 {
		return "drop counters that moved while it ran: none"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s +%d", k, v))
	}
	sort.Strings(parts)
	return "drop counters that moved while it ran: " + strings.Join(parts, ", ")
}

// traceOf returns the traced packets of one flow, as trace prints them:
// packets naming one of the flow's own ends (translations included).
func (rn *run) traceOf(t *trafficRun, fr *echo.FlowResult, xl map[netip.AddrPort][]netip.AddrPort) []string {
	local := localOf(t, fr)
	var keys []string
	for _, e := range rn.ends(local, xl) {
		if e.Port() == 0 {
			keys = append(keys, e.Addr().String()+" ")
		} else {
			keys = append(keys, e.String()+" ")
		}
	}
	// A retransmission traces exactly as the packet it repeats: each
	// distinct trace is shown once, with how often it was seen.
	var out []string
	var shown []*seenTrace
	index := map[string]*seenTrace{}
	targets := map[string]bool{}
	all := t.traces()
	for _, tr := range all {
		pkt := tr.Packet + " "
		hit := false
		for _, k := range keys {
			if strings.Contains(pkt, k) {
				hit = true
				break
			}
		}
		if !hit {
			continue
		}
		for _, h := range tr.Hops {
			if m := targetHop.FindStringSubmatch(h); m != nil {
				targets[m[1]] = true
			}
		}
		lines := traceLines(tr)
		key := strings.Join(lines, "\n")
		if st := index[key]; st != nil {
			st.n++
			continue
		}
		if len(shown) == maxTraceLines {
			continue
		}
		st := &seenTrace{lines: lines, n: 1}
		index[key] = st
		shown = append(shown, st)
	}
	for _, st := range shown {
		lines := slicesClone(st.lines)
		if st.n > 1 {
			lines[0] += fmt.Sprintf("  (seen %d times)", st.n)
		}
		out = append(out, lines...)
	}
	if len(shown) == maxTraceLines && len(index) > len(shown) {
		out = append(out, "  trace: (more packets left out)")
	}
	// What the appliances it went to returned and the GWLB refused (a
	// refused return is traced by its outer addresses only).
	refused := 0
	for _, tr := range all {
		if !targets[tr.From] || !strings.HasPrefix(tr.Result, "dropped by gwlb node") {
			continue
		}
		if refused == maxRefused {
			out = append(out, "  refused: (more left out)")
			break
		}
		refused++
		out = append(out, traceLines(tr)...)
	}
	return out
}

// seenTrace is a distinct trace of a flow and how often it was seen.
type seenTrace struct {
	lines []string
	n     int
}

// maxRefused is how many refused returns of appliances a flow's evidence
// shows.
const maxRefused = 3

var targetHop = regexp.MustCompile(`-> target (\S+), cookie`)

// traceLines prints a trace as gwlb-lab trace does.
func traceLines(tr Trace) []string {
	out := []string{fmt.Sprintf("  trace: from %s: %s", tr.From, tr.Packet)}
	for _, h := range tr.Hops {
		out = append(out, "      "+h)
	}
	return append(out, "      => "+tr.Result)
}

// --- traverses, bypasses, symmetric, one_target

// directions returns which directions of a flow went to the appliance
// (any target when appliance is "").
func (rn *run) directions(o *observed, appliance string) (fwd, ret bool) {
	for i, f := range o.entries {
		if appliance != "" && !rn.isTarget(f, appliance) {
			continue
		}
		orig, reply := f.OrigPackets > 0, f.ReplyPackets > 0
		if !o.fwd[i] {
			orig, reply = reply, orig
		}
		fwd, ret = fwd || orig, ret || reply
	}
	return fwd, ret
}

// isTarget reports whether a flow is pinned to the appliance named.
func (rn *run) isTarget(f Flow, appliance string) bool {
	if f.Target == appliance || f.TargetIP == appliance {
		return true
	}
	if n, ok := rn.topo.Node(appliance); ok {
		return f.TargetIP == n.Interface.Addr.Addr().String()
	}
	return false
}

func dirWords(fwd, ret bool) string {
	switch {
	case fwd && ret:
		return "both"
	case fwd:
		return "forward"
	case ret:
		return "return"
	}
	return "none"
}

func (rn *run) traverses(ctx context.Context, tv *scenario.TraversesSpec, er *ExpectResult) error {
	r := ref{tv.Traffic, tv.From, tv.To, tv.Protocol, tv.Port, tv.Flows}
	obs, err := rn.flowsOf(ctx, r)
	if err != nil {
		return err
	}
	wantF, wantR := false, false
	dirs := tv.Directions
	if len(dirs) == 0 {
		dirs = []string{"both"}
	}
	for _, d := range dirs {
		switch d {
		case "forward":
			wantF = true
		case "return":
			wantR = true
		case "both":
			wantF, wantR = true, true
		}
	}
	who := "an appliance"
	if tv.Appliance != "" {
		who = tv.Appliance
	}
	met := 0
	seen := map[string]int{}
	var bad []*observed
	for _, o := range obs {
		f, rt := rn.directions(o, tv.Appliance)
		seen[dirWords(f, rt)]++
		if f == wantF && rt == wantR {
			met++
		} else {
			bad = append(bad, o)
		}
	}
	er.Expected = fmt.Sprintf("%s through %s, directions: %s", r.quantifier(), who, dirWords(wantF, wantR))
	er.Observed = fmt.Sprintf("%d flows; directions through %s: %s", len(obs), who, countWords(seen))
	judge(er, count(r, met, len(obs)))
	if er.Status == StatusFail {
		if r.some() {
			bad = obs
		}
		er.Evidence = rn.flowEvidence(ctx, bad)
	}
	return nil
}

func countWords(m map[string]int) string {
	if len(m) == 0 {
		return "no flows"
	}
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

func (rn *run) bypasses(ctx context.Context, f *scenario.FlowRefSpec, er *ExpectResult) error {
	r := refOf(f)
	obs, err := rn.flowsOf(ctx, r)
	if err != nil {
		return err
	}
	met, seen := 0, 0
	var bad []*observed
	for _, o := range obs {
		if len(o.entries) == 0 {
			met++
		} else {
			seen++
			bad = append(bad, o)
		}
	}
	er.Expected = "no appliance saw the traffic"
	er.Observed = fmt.Sprintf("%d flows seen by the GWLB", seen)
	if r.traffic != "" {
		er.Expected = r.quantifier() + " seen by no appliance"
		er.Observed += fmt.Sprintf(" (of %d)", len(obs))
		judge(er, count(r, met, len(obs)))
	} else {
		// From and to select the GWLB's flows: there must be none.
		judge(er, seen == 0)
	}
	if er.Status == StatusFail {
		er.Evidence = rn.flowEvidence(ctx, bad)
	}
	return nil
}

func (rn *run) symmetric(ctx context.Context, f *scenario.FlowRefSpec, er *ExpectResult) error {
	r := refOf(f)
	obs, err := rn.flowsOf(ctx, r)
	if err != nil {
		return err
	}
	met := 0
	var bad []*observed
	for _, o := range obs {
		fwd, ret := rn.directions(o, "")
		if len(o.entries) == 1 && fwd && ret {
			met++
		} else {
			bad = append(bad, o)
		}
	}
	er.Expected = r.quantifier() + " through one GWLB node and one appliance, both ways"
	er.Observed = fmt.Sprintf("%d of %d flows so", met, len(obs))
	judge(er, count(r, met, len(obs)))
	if er.Status == StatusFail {
		er.Evidence = rn.flowEvidence(ctx, bad)
	}
	return nil
}

func (rn *run) oneTarget(ctx context.Context, f *scenario.FlowRefSpec, er *ExpectResult) error {
	r := refOf(f)
	obs, err := rn.flowsOf(ctx, r)
	if err != nil {
		return err
	}
	targets := map[string]int{}
	missing := 0
	for _, o := range obs {
		if len(o.entries) == 0 {
			missing++
		}
		for _, e := range o.entries {
			targets[e.Target]++
		}
	}
	er.Expected = "every flow on one and the same appliance"
	er.Observed = "appliances: " + countWords(targets)
	if missing > 0 {
		er.Observed += fmt.Sprintf("; %d flows not seen by the GWLB", missing)
	}
	judge(er, len(obs) > 0 && missing == 0 && len(targets) == 1)
	if er.Status == StatusFail {
		er.Evidence = rn.flowEvidence(ctx, obs)
	}
	return nil
}

// flowEvidence is, for a few flows, the GWLB's flow table entries and the
// flow log lines of the appliances they went to.
func (rn *run) flowEvidence(ctx context.Context, obs []*observed) []string {
	var ev []string
	logs := map[string][]FlowLogRecord{}
	shapes := map[string]bool{}
	like := 0
	for _, o := range obs {
		start := len(ev)
		head := o.label
		if o.result != nil && !o.result.OK {
			head += " (not answered: " + o.result.Error + ")"
		}
		ev = append(ev, head+":")
		if len(o.entries) == 0 {
			ev = append(ev, "  flows table: no GWLB flow")
		}
		for _, f := range o.entries {
			ev = append(ev, fmt.Sprintf("  flows table: node %s (az %s) endpoint %s: %s -> %s target %s cookie %s, packets %d forward / %d return",
				f.Node, f.AZ, f.Endpoint, f.Src, f.Dst, f.Target, f.Cookie, f.OrigPackets, f.ReplyPackets))
			recs, ok := logs[f.Target]
			if !ok {
				recs, _ = rn.lab.FlowLog(ctx, f.Target)
				logs[f.Target] = recs
			}
			for _, rec := range recs {
				if rec.Cookie != f.Cookie {
					continue
				}
				line := fmt.Sprintf("  flow log of %s: %s %s %s:%d -> %s:%d", f.Target, rec.Event, rec.Dir, rec.Src, rec.SrcPort, rec.Dst, rec.DstPort)
				if rec.Reason != "" {
					line += " (" + rec.Reason + ")"
				}
				ev = append(ev, line)
			}
		}
		if o.t != nil && o.result != nil && len(o.entries) == 0 {
			ev = append(ev, rn.traceOf(o.t, o.result, rn.translations(o.t))...)
		}
		// Flows that went the same way are shown once.
		shape := flowShape("", ev[start+1:])
		if shapes[shape] || len(shapes) == maxEvidenceFlows {
			ev = ev[:start]
			like++
			continue
		}
		shapes[shape] = true
	}
	if like > 0 {
		ev = append(ev, fmt.Sprintf("(%d more flows like these)", like))
	}
	return ev
}

// --- drop and target

func (rn *run) drop(d *scenario.DropSpec, now map[string]uint64, er *ExpectResult) {
	v, base := now[d.Reason], rn.base[d.Reason]
	switch {
	case d.Rose != nil:
		rose := v > base
		if *d.Rose {
			er.Expected = d.Reason + " rose"
		} else {
			er.Expected = d.Reason + " did not rise"
		}
		er.Observed = fmt.Sprintf("%s %d -> %d (+%d)", d.Reason, base, v, v-min(v, base))
		judge(er, rose == *d.Rose)
	case d.Zero != nil:
		if *d.Zero {
			er.Expected = d.Reason + " is zero"
		} else {
			er.Expected = d.Reason + " is not zero"
		}
		er.Observed = fmt.Sprintf("%s = %d", d.Reason, v)
		judge(er, (v == 0) == *d.Zero)
	}
	if er.Status == StatusFail {
		er.Evidence = append(er.Evidence, "drop counters that moved since the previous expect step: "+strings.TrimPrefix(dropsLine(moved(rn.base, now)), "drop counters that moved while it ran: "))
		for _, name := range rn.trafficNames() {
			t := rn.traffic[name]
			if d.Reason != "" && t.res.DropsMoved[d.Reason] > 0 {
				er.Evidence = append(er.Evidence, fmt.Sprintf("traffic %s moved %s by %d", name, d.Reason, t.res.DropsMoved[d.Reason]))
			}
		}
	}
}

func (rn *run) trafficNames() []string {
	var names []string
	for k := range rn.traffic {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

func (rn *run) targetState(ctx context.Context, ts *scenario.TargetStateSpec, er *ExpectResult) error {
	t, err := scenario.ResolveTarget(rn.topo, ts.Name)
	if err != nil {
		return err
	}
	ok, seen, err := rn.targetIs(ctx, t, ts.State)
	if err != nil {
		return err
	}
	er.Expected = fmt.Sprintf("%s %s on every GWLB node that checks it", ts.Name, ts.State)
	er.Observed = seen
	judge(er, ok)
	return nil
}

// asgExpect judges an expectation on an Auto Scaling group: its desired
// capacity, its InService instances, and where a traffic's flows went.
func (rn *run) asgExpect(ctx context.Context, a *scenario.ASGExpectSpec, er *ExpectResult) error {
	g, err := rn.asg(ctx, a.Name)
	if err != nil {
		return err
	}
	var want, seen []string
	ok := true
	if a.Desired != nil {
		want = append(want, fmt.Sprintf("desired %d", *a.Desired))
		ok = ok && g.Desired == *a.Desired
	}
	if a.InService != nil {
		n, _ := inService(g)
		want = append(want, fmt.Sprintf("%d InService", *a.InService))
		ok = ok && n == *a.InService
	}
	if a.Desired != nil || a.InService != nil {
		seen = append(seen, instancesLine(g))
	}
	if a.Traffic != "" {
		t, err := rn.named(ctx, a.Traffic)
		if err != nil {
			return err
		}
		obs := rn.match(t)
		// The group's instances now and those it had: a flow's target is
		// named by node name, or by address (target type ip).
		members := map[string]bool{}
		for _, in := range g.Instances {
			members[in.Name] = true
			if in.IP != "" {
				members[in.IP] = true
			}
		}
		prefix := a.Name + "-"
		isMember := func(f Flow) bool {
			if members[f.Target] || members[f.TargetIP] {
				return true
			}
			n, found := strings.CutPrefix(f.Target, prefix)
			_, err := strconv.Atoi(n)
			return found && err == nil
		}
		in := 0
		var bad, good []*observed
		for _, o := range obs {
			hit := slices.ContainsFunc(o.entries, isMember)
			if hit {
				in++
				good = append(good, o)
			} else {
				bad = append(bad, o)
			}
		}
		flows := a.Flows
		if flows == "" {
			flows = "some"
		}
		var met bool
		switch flows {
		case "all":
			met = len(obs) > 0 && in == len(obs)
			want = append(want, fmt.Sprintf("every flow of %s to an instance of %s", a.Traffic, a.Name))
		case "none":
			met = in == 0
			want = append(want, fmt.Sprintf("no flow of %s to an instance of %s", a.Traffic, a.Name))
			bad = good
		default:
			met = in > 0
			want = append(want, fmt.Sprintf("at least one flow of %s to an instance of %s", a.Traffic, a.Name))
			bad = obs
		}
		seen = append(seen, fmt.Sprintf("%d of %d flows of %s went to its instances", in, len(obs), a.Traffic))
		ok = ok && met
		if !met {
			er.Evidence = rn.flowEvidence(ctx, bad)
		}
	}
	er.Expected = fmt.Sprintf("group %s: %s", a.Name, strings.Join(want, ", "))
	er.Observed = strings.Join(seen, "; ")
	judge(er, ok)
	return nil
}
