package runner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab/echo"
	"github.com/gwlb-lab/gwlb-lab/lab/scenario"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"go.yaml.in/yaml/v3"
)

// Runner runs scenario files.
type Runner struct {
	Launcher Launcher
	// LabName is the lab's name; "" picks a random one per file.
	LabName string
	// Keep leaves each lab up after its file has run.
	Keep bool
	// Progress receives a line per step as it starts (nil: none).
	Progress io.Writer
	// Binary is the gwlb-lab executable run inside nodes (traffic).
	Binary string
	// Timeout bounds each exchange of the traffic client (default 2s).
	Timeout time.Duration
	// Poll is how often waits look (default 200ms).
	Poll time.Duration
}

func (r *Runner) progress(format string, args ...any) {
	if r.Progress != nil {
		fmt.Fprintf(r.Progress, format+"\n", args...)
	}
}

// Run runs every file in turn and returns the report.
func (r *Runner) Run(ctx context.Context, files []string) *Report {
	rep := &Report{Passed: true}
	for _, f := range files {
		fr := r.RunFile(ctx, f)
		rep.Files = append(rep.Files, fr)
		switch fr.Status {
		case StatusPass:
		case StatusInvalid, StatusNotUp:
			rep.ExitCode = 2
		default:
			rep.ExitCode = max(rep.ExitCode, 1)
		}
		if ctx.Err() != nil {
			break
		}
	}
	rep.Passed = rep.ExitCode == 0
	return rep
}

// randomName is a lab name for a scenario run: sc- and 6 random letters.
func randomName() string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return "sc-" + string(b)
}

// RunFile runs one scenario file: validate, up, steps, down.
func (r *Runner) RunFile(ctx context.Context, path string) (fr *FileResult) {
	start := time.Now()
	fr = &FileResult{File: path}
	defer func() { fr.Seconds = time.Since(start).Seconds() }()
	f, err := scenario.Load(ctx, path)
	var serr *scenario.Error
	var diags topology.Diagnostics
	switch {
	case errors.As(err, &serr):
		diags = serr.Diagnostics
	case err != nil:
		fr.Status, fr.Error = StatusInvalid, err.Error()
		return fr
	default:
		fr.Name = f.Scenario.Name
		diags = scenario.Validate(ctx, f)
	}
	for _, d := range diags {
		fr.Diagnostics = append(fr.Diagnostics, fmt.Sprintf("%s:%d: %s: %s", path, d.Line, d.Severity, d))
	}
	if diags.HasErrors() {
		fr.Status = StatusInvalid
		fr.Error = fmt.Sprintf("the file has %d errors", len(diags.Errors()))
		return fr
	}
	name := r.LabName
	if name == "" {
		name = randomName()
	}
	fr.Lab = name
	tf, err := f.TopologyFile(ctx)
	if err != nil {
		fr.Status, fr.Error = StatusInvalid, err.Error()
		return fr
	}
	topo, err := topology.Resolve(tf, name)
	if err != nil {
		fr.Status, fr.Error = StatusInvalid, err.Error()
		return fr
	}
	if err := r.Launcher.Check(topo); err != nil {
		fr.Status, fr.Error = StatusError, err.Error()
		if Unsupported(err) {
			fr.Unsupported = err.Error()
		}
		return fr
	}
	r.progress("%s: %s: bringing lab %s up", path, f.Scenario.Name, name)
	l, err := r.Launcher.Up(ctx, topo, path)
	if err == nil {
		// Removed whatever happens next, Ctrl-C included (ctx ends then;
		// the removal does not).
		defer func() {
			if r.Keep {
				fr.Kept = true
				r.progress("%s: lab %s kept (gwlb-lab down --name %s removes it)", path, name, name)
				return
			}
			r.progress("%s: removing lab %s", path, name)
			if derr := r.Launcher.Down(context.WithoutCancel(ctx), name); derr != nil {
				r.progress("%s: removing lab %s: %v", path, name, derr)
			}
		}()
	}
	// A failed up removes what it made itself; a lab of that name that
	// was there before is someone else's and is left alone.
	if err != nil {
		fr.Status, fr.Error = StatusNotUp, fmt.Sprintf("lab %s did not come up: %v", name, err)
		if Unsupported(err) {
			fr.Unsupported = err.Error()
		}
		return fr
	}
	rn := &run{r: r, f: f, lab: l, topo: topo, fr: fr, traffic: map[string]*trafficRun{}}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rn.stop = cancel
	rn.steps(sctx)
	return fr
}

// run is one file's run in progress.
type run struct {
	r       *Runner
	f       *scenario.File
	lab     Lab
	topo    *topology.Lab
	fr      *FileResult
	traffic map[string]*trafficRun
	// base is the drop counters at the previous expect step.
	base map[string]uint64
	bg   sync.WaitGroup
	// stop ends the steps' context: background traffic stops when a step
	// could not be done.
	stop context.CancelFunc
}

func (rn *run) steps(ctx context.Context) {
	base, err := rn.lab.Drops(ctx)
	if err != nil {
		rn.fr.Status, rn.fr.Error = StatusError, "read the drop counters: "+err.Error()
		return
	}
	rn.base = base
	failed, broken := false, false
	for i, st := range rn.f.Scenario.Steps {
		path := fmt.Sprintf("steps[%d]", i)
		sr := &StepResult{Path: path, Line: rn.f.Line(path), Kind: stepKind(st), Summary: stepSummary(st)}
		rn.fr.Steps = append(rn.fr.Steps, sr)
		if broken {
			sr.Status = StatusSkipped
			continue
		}
		rn.r.progress("%s: %s %s: %s", rn.f.Name, path, sr.Kind, sr.Summary)
		start := time.Now()
		err := rn.step(ctx, path, st, sr)
		sr.Seconds = time.Since(start).Seconds()
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("interrupted: %v", context.Cause(ctx))
		}
		switch {
		case err != nil:
			sr.Status, sr.Error = StatusError, err.Error()
			broken = true
			if rn.fr.Error == "" {
				rn.fr.Error = path + ": " + err.Error()
			}
			if Unsupported(err) && rn.fr.Unsupported == "" {
				rn.fr.Unsupported = path + ": " + err.Error()
			}
		case sr.Status == StatusFail:
			failed = true
		}
		if ctx.Err() != nil {
			broken = true
		}
	}
	if broken && rn.stop != nil {
		rn.stop()
	}
	// The scenario's end waits for background traffic.
	rn.bg.Wait()
	switch {
	case broken:
		rn.fr.Status = StatusError
	case failed:
		rn.fr.Status = StatusFail
	default:
		rn.fr.Status = StatusPass
	}
}

func stepKind(st scenario.StepSpec) string {
	switch {
	case st.Traffic != nil:
		return "traffic"
	case st.Fault != nil:
		return "fault"
	case st.Route != nil:
		return "route"
	case st.ASG != nil:
		return "asg"
	case st.Wait != nil:
		return "wait"
	}
	return "expect"
}

// stepSummary is the step as one line of flow-style YAML.
func stepSummary(st scenario.StepSpec) string {
	switch {
	case st.Traffic != nil:
		return flowYAML(st.Traffic)
	case st.Fault != nil:
		return flowYAML(st.Fault)
	case st.Route != nil:
		return flowYAML(st.Route)
	case st.ASG != nil:
		return flowYAML(st.ASG)
	case st.Wait != nil:
		return flowYAML(st.Wait)
	}
	return fmt.Sprintf("%d expectations", len(st.Expect))
}

// flowYAML renders v as the file would write it on one line: {key: value}.
func flowYAML(v any) string {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	var flow func(*yaml.Node)
	flow = func(n *yaml.Node) {
		n.Style |= yaml.FlowStyle
		for _, c := range n.Content {
			flow(c)
		}
	}
	flow(&n)
	b, err := yaml.Marshal(&n)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(b))
}

func (rn *run) step(ctx context.Context, path string, st scenario.StepSpec, sr *StepResult) error {
	switch {
	case st.Traffic != nil:
		return rn.trafficStep(ctx, st.Traffic, sr)
	case st.Fault != nil:
		sr.Status = StatusOK
		return rn.fault(ctx, st.Fault)
	case st.Route != nil:
		sr.Status = StatusOK
		return rn.route(ctx, st.Route)
	case st.ASG != nil:
		sr.Status = StatusOK
		return rn.lab.SetDesired(ctx, st.ASG.Name, *st.ASG.Desired)
	case st.Wait != nil:
		sr.Status = StatusOK
		return rn.wait(ctx, st.Wait)
	}
	return rn.expectStep(ctx, path, st.Expect, sr)
}

// --- traffic

// trafficRun is a traffic step's run: what the client reported and what
// the emulator showed meanwhile.
type trafficRun struct {
	spec  scenario.TrafficSpec
	res   *TrafficResult
	from  *topology.Node
	dest  netip.Addr
	done  chan struct{}
	mu    sync.Mutex
	trace []Trace
	// flows is the GWLB flow listing when the traffic ended.
	flows []Flow
	err   error
}

func (t *trafficRun) addTrace(tr Trace) {
	t.mu.Lock()
	t.trace = append(t.trace, tr)
	t.mu.Unlock()
}

func (t *trafficRun) traces() []Trace {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.trace)
}

func (rn *run) trafficStep(ctx context.Context, spec *scenario.TrafficSpec, sr *StepResult) error {
	t, err := rn.startTraffic(ctx, *spec)
	if err != nil {
		return err
	}
	sr.Traffic = t.res
	if spec.Name != "" {
		rn.traffic[spec.Name] = t
	}
	if spec.Background {
		sr.Status = StatusOK
		return nil
	}
	<-t.done
	sr.Status = StatusOK
	return t.err
}

// protocolOf returns a step's protocol and port with their defaults.
func protocolOf(proto string, port *int) (string, int) {
	if proto == "" {
		proto = scenario.DefaultProtocol
	}
	p := scenario.DefaultPort
	if port != nil {
		p = *port
	}
	if proto == "icmp" {
		p = 0
	}
	return proto, p
}

// startTraffic starts the traffic client in the from node, with a trace
// of the addresses involved, and returns at once; t.done is closed when
// it has ended and its flows are listed.
func (rn *run) startTraffic(ctx context.Context, spec scenario.TrafficSpec) (*trafficRun, error) {
	from, err := scenario.ResolveNode(rn.topo, spec.From)
	if err != nil {
		return nil, err
	}
	if from.Container != nil {
		return nil, fmt.Errorf("traffic from %s: the traffic client runs from the host's gwlb-lab binary, which a container node does not have: %w", spec.From, ErrUnsupported)
	}
	dest, err := scenario.Destination(rn.topo, spec.From, spec.To)
	if err != nil {
		return nil, err
	}
	proto, port := protocolOf(spec.Protocol, spec.Port)
	t := &trafficRun{spec: spec, from: from, dest: dest, done: make(chan struct{}),
		res: &TrafficResult{Name: spec.Name, From: spec.From, To: spec.To, Dest: dest.String(), Protocol: proto, Port: port, Background: spec.Background}}
	argv := []string{rn.r.Binary, "traffic", dest.String(), "--protocol", proto}
	if proto != "icmp" {
		argv = append(argv, "--port", strconv.Itoa(port))
	}
	flows := scenario.DefaultFlows
	if spec.Flows != nil {
		flows = *spec.Flows
	}
	argv = append(argv, "--flows", strconv.Itoa(flows))
	if spec.Size != nil {
		argv = append(argv, "--size", strconv.Itoa(*spec.Size))
	}
	if spec.Duration != "" {
		d, err := scenario.ParseDuration(spec.Duration, 0)
		if err != nil {
			return nil, err
		}
		iv, err := scenario.ParseDuration(spec.Interval, scenario.DefaultInterval)
		if err != nil {
			return nil, err
		}
		argv = append(argv, "--duration", d.String(), "--interval", iv.String())
	}
	timeout := rn.r.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	argv = append(argv, "--timeout", timeout.String())

	before, err := rn.lab.Drops(ctx)
	if err != nil {
		return nil, err
	}
	tctx, cancel := context.WithCancel(ctx)
	traced, err := rn.lab.Trace(tctx, rn.hostsOf(from, dest), t.addTrace)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("trace: %w", err)
	}
	rn.bg.Add(1)
	go func() {
		defer rn.bg.Done()
		defer close(t.done)
		var out, errb bytes.Buffer
		code, err := rn.lab.Exec(ctx, spec.From, argv, &out, &errb)
		sc := bufio.NewScanner(&out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var fr echo.FlowResult
			if json.Unmarshal(sc.Bytes(), &fr) == nil {
				t.res.Flows = append(t.res.Flows, fr)
				if fr.OK {
					t.res.Answered++
				}
			}
		}
		switch {
		case err != nil:
			t.err = fmt.Errorf("traffic from %s: %w", spec.From, err)
		case len(t.res.Flows) == 0:
			t.err = fmt.Errorf("traffic from %s: the traffic client reported nothing (exit status %d): %s", spec.From, code, strings.TrimSpace(errb.String()))
		}
		if t.err != nil {
			t.res.Error = t.err.Error()
		}
		// The last packets' traces follow their answers closely: give
		// the stream a moment to hand them over.
		time.Sleep(150 * time.Millisecond)
		cancel()
		<-traced
		t.flows, _ = rn.lab.Flows(context.WithoutCancel(ctx))
		if after, err := rn.lab.Drops(context.WithoutCancel(ctx)); err == nil {
			t.res.DropsMoved = moved(before, after)
		}
	}()
	return t, nil
}

// hostsOf returns the addresses a trace of traffic from node to dest
// watches: the node's, dest, and dest's other address when it is an
// instance's public or private one.
func (rn *run) hostsOf(from *topology.Node, dest netip.Addr) []netip.Addr {
	var hs []netip.Addr
	add := func(a netip.Addr) {
		if a.IsValid() && !slices.Contains(hs, a) {
			hs = append(hs, a)
		}
	}
	add(from.Interface.Addr.Addr())
	add(from.Interface.Addr6.Addr())
	add(from.Interface.PublicIP)
	add(dest)
	for _, a := range rn.aliases(dest) {
		add(a)
	}
	// The targets: GENEVE an appliance returns is traced only by its
	// outer addresses when the GWLB node refuses it.
	for _, g := range rn.topo.GWLBs {
		for _, t := range g.TargetGroup.Targets {
			add(t.Addr)
		}
	}
	return hs
}

// aliases returns the other addresses of the node that owns a: an
// instance's private and public address are one host seen from two sides
// of the internet gateway.
func (rn *run) aliases(a netip.Addr) []netip.Addr {
	for _, n := range rn.topo.Nodes {
		in := n.Interface
		if in.Addr.Addr() == a || in.PublicIP == a || in.Addr6.Addr() == a {
			var out []netip.Addr
			for _, x := range []netip.Addr{in.Addr.Addr(), in.PublicIP, in.Addr6.Addr()} {
				if x.IsValid() && x != a {
					out = append(out, x)
				}
			}
			return out
		}
	}
	return nil
}

func moved(before, after map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range after {
		if v > before[k] {
			out[k] = v - before[k]
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// --- faults and routes

func (rn *run) fault(ctx context.Context, f *scenario.FaultSpec) error {
	node := func(verb, name string) error {
		if _, err := scenario.ResolveNode(rn.topo, name); err != nil {
			return err
		}
		return rn.lab.Node(ctx, verb, name)
	}
	target := func(name string, do func(scenario.Target) error) error {
		t, err := scenario.ResolveTarget(rn.topo, name)
		if err != nil {
			return err
		}
		return do(t)
	}
	switch {
	case f.NodeStop != "":
		return node("stop", f.NodeStop)
	case f.NodeStart != "":
		return node("start", f.NodeStart)
	case f.NodeRestart != "":
		return node("restart", f.NodeRestart)
	case f.NodePause != "":
		return node("pause", f.NodePause)
	case f.NodeUnpause != "":
		return node("unpause", f.NodeUnpause)
	case f.Deregister != "":
		return target(f.Deregister, func(t scenario.Target) error { return rn.lab.Target(ctx, "deregister", t.GWLB, t.ID) })
	case f.Register != "":
		return target(f.Register, func(t scenario.Target) error { return rn.lab.Target(ctx, "register", t.GWLB, t.ID) })
	case f.HealthFail != "":
		return target(f.HealthFail, func(t scenario.Target) error { return rn.lab.Health(ctx, t.GWLB, t.ID, true) })
	case f.HealthClear != "":
		return target(f.HealthClear, func(t scenario.Target) error { return rn.lab.Health(ctx, t.GWLB, t.ID, false) })
	case f.Link != nil:
		e := LinkEdit{Down: f.Link.Down, Loss: f.Link.Loss}
		for _, x := range []struct {
			s   string
			dst **time.Duration
		}{{f.Link.Delay, &e.Delay}, {f.Link.Jitter, &e.Jitter}} {
			if x.s == "" {
				continue
			}
			d, err := scenario.ParseDuration(x.s, 0)
			if err != nil {
				return err
			}
			*x.dst = &d
		}
		return rn.lab.Link(ctx, f.Link.Node, e)
	}
	return errors.New("a fault step needs one fault")
}

func (rn *run) route(ctx context.Context, r *scenario.RouteEditSpec) error {
	vpc, table, err := scenario.ResolveTable(rn.topo, r.Table)
	if err != nil {
		return err
	}
	dest, err := netip.ParsePrefix(r.Destination)
	if err != nil {
		return fmt.Errorf("destination %q: %w", r.Destination, err)
	}
	return rn.lab.Route(ctx, vpc.Name, table.Name, r.Action, dest, r.Target)
}

// --- waits

func (rn *run) wait(ctx context.Context, w *scenario.WaitSpec) error {
	timeout, err := scenario.ParseDuration(w.Timeout, scenario.DefaultWaitTimeout)
	if err != nil {
		return err
	}
	poll := rn.r.Poll
	if poll <= 0 {
		poll = 200 * time.Millisecond
	}
	switch {
	case w.Duration != "":
		d, err := scenario.ParseDuration(w.Duration, 0)
		if err != nil {
			return err
		}
		scale := rn.topo.TimeScale
		if scale <= 0 {
			scale = 1
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(float64(d) / scale)):
		}
		return nil
	case w.Traffic != "":
		t, ok := rn.traffic[w.Traffic]
		if !ok {
			return fmt.Errorf("no traffic named %q has run", w.Traffic)
		}
		select {
		case <-t.done:
			return t.err
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(timeout):
			return fmt.Errorf("traffic %s still runs after %s", w.Traffic, timeout)
		}
	}
	var check func() (bool, string, error)
	switch {
	case w.Target != "":
		t, err := scenario.ResolveTarget(rn.topo, w.Target)
		if err != nil {
			return err
		}
		check = func() (bool, string, error) {
			ok, seen, err := rn.targetIs(ctx, t, w.State)
			return ok, seen, err
		}
	case w.Flows != nil:
		check = func() (bool, string, error) {
			fl, err := rn.lab.Flows(ctx)
			return len(fl) >= *w.Flows, fmt.Sprintf("%d flows", len(fl)), err
		}
	case w.ASG != "" && w.InService != nil:
		check = func() (bool, string, error) {
			g, err := rn.asg(ctx, w.ASG)
			if err != nil {
				return false, "", err
			}
			n, healthy := inService(g)
			ok := n == *w.InService && (!w.Healthy || healthy == n)
			return ok, instancesLine(g), nil
		}
	default:
		return errors.New("a wait step needs target, flows, traffic, asg or duration")
	}
	deadline := time.Now().Add(timeout)
	for {
		ok, seen, err := check()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s; last seen: %s", timeout, seen)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// targetIs reports whether every GWLB node that checks t shows state, and
// what they show.
func (rn *run) targetIs(ctx context.Context, t scenario.Target, state string) (bool, string, error) {
	ts, err := rn.lab.Targets(ctx)
	if err != nil {
		return false, "", err
	}
	var seen []string
	ok := true
	ip := ""
	if n, found := rn.topo.Node(t.Node); found {
		ip = n.Interface.Addr.Addr().String()
	}
	for _, x := range ts {
		if x.GWLB != t.GWLB || (x.Target != t.ID && x.Target != t.Node && (ip == "" || x.IP != ip)) {
			continue
		}
		s := x.Node + ": " + x.State
		if x.Reason != "" {
			s += " (" + x.Reason + ")"
		}
		seen = append(seen, s)
		if x.State != state {
			ok = false
		}
	}
	if len(seen) == 0 {
		return false, "no GWLB node checks it", nil
	}
	return ok, strings.Join(seen, ", "), nil
}

// --- Auto Scaling groups

// asg returns the group named.
func (rn *run) asg(ctx context.Context, name string) (ASGState, error) {
	gs, err := rn.lab.ASGs(ctx)
	if err != nil {
		return ASGState{}, err
	}
	for _, g := range gs {
		if g.Name == name {
			return g, nil
		}
	}
	return ASGState{}, fmt.Errorf("the emulator runs no Auto Scaling group %q", name)
}

// inService counts a group's InService instances, and those of them
// healthy in every target group of the group.
func inService(g ASGState) (n, healthy int) {
	for _, in := range g.Instances {
		if in.State != "InService" {
			continue
		}
		n++
		ok := len(in.Targets) > 0
		for _, st := range in.Targets {
			ok = ok && st == "healthy"
		}
		if ok {
			healthy++
		}
	}
	return n, healthy
}

// instancesLine says what a group holds: desired capacity, then each
// instance with its state and its targets' states.
func instancesLine(g ASGState) string {
	parts := []string{fmt.Sprintf("desired %d", g.Desired)}
	for _, in := range g.Instances {
		s := in.Name + " " + in.State
		var ts []string
		for _, tg := range slices.Sorted(maps.Keys(in.Targets)) {
			ts = append(ts, tg+": "+in.Targets[tg])
		}
		if len(ts) > 0 {
			s += " (" + strings.Join(ts, ", ") + ")"
		}
		parts = append(parts, s)
	}
	if len(g.Instances) == 0 {
		parts = append(parts, "no instance")
	}
	return strings.Join(parts, "; ")
}
