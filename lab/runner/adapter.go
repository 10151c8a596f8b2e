package runner

// The one adapter between the runner and this build's lab: lab.Manager for
// up, down, exec and node verbs, and the emulator's control socket
// (emulator/control) decoded into the control API's types (emulator/api),
// faults and route edits included.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os/exec"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// ManagerLauncher runs labs with a lab.Manager.
type ManagerLauncher struct {
	M *lab.Manager
}

// Check finds the programs the lab's command nodes run on the host's PATH.
func (ml ManagerLauncher) Check(l *topology.Lab) error {
	for _, n := range l.Nodes {
		if n.Container != nil || n.Run == nil || n.Run.Kind != topology.RunCommand || len(n.Run.Command) == 0 {
			continue
		}
		prog := n.Run.Command[0]
		if strings.Contains(prog, "/") {
			continue
		}
		if _, err := exec.LookPath(prog); err != nil {
			return fmt.Errorf("node %s runs %s, which is not on PATH: %w", n.Name, prog, ErrNotInstalled)
		}
	}
	return nil
}

// Up brings the lab up and opens its control socket.
func (ml ManagerLauncher) Up(ctx context.Context, l *topology.Lab, source string) (Lab, error) {
	if err := ml.M.Up(ctx, l, source, false); err != nil {
		return nil, err
	}
	c, err := ml.M.Control(l.Name)
	if err != nil {
		return nil, err
	}
	p, err := ml.M.Paths(l.Name)
	if err != nil {
		return nil, err
	}
	return &managerLab{m: ml.M, name: l.Name, c: c, paths: p}, nil
}

// Down removes the lab.
func (ml ManagerLauncher) Down(ctx context.Context, name string) error { return ml.M.Down(ctx, name) }

type managerLab struct {
	m     *lab.Manager
	name  string
	c     *control.Client
	paths lab.Paths
}

func (l *managerLab) Exec(ctx context.Context, node string, argv []string, stdout, stderr io.Writer) (int, error) {
	return l.m.Exec(ctx, l.name, node, argv, nil, stdout, stderr)
}

func (l *managerLab) Flows(ctx context.Context) ([]Flow, error) {
	body, err := l.c.Stream(ctx, "/v1/flows")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	var out []Flow
	_, err = api.ReadFlows(body, func(f api.Flow) error {
		out = append(out, Flow{GWLB: f.GWLB, Node: f.Node, AZ: f.AZ, Endpoint: f.Endpoint, Src: f.Src, Dst: f.Dst,
			Proto: f.Proto, Target: f.Target, TargetIP: f.TargetIP, Cookie: f.Cookie,
			OrigPackets: f.OrigPackets, ReplyPackets: f.ReplyPackets})
		return nil
	})
	return out, err
}

func (l *managerLab) Targets(ctx context.Context) ([]TargetState, error) {
	var ts []api.TargetHealth
	if err := l.c.Get(ctx, "/v1/targets", &ts); err != nil {
		return nil, err
	}
	out := make([]TargetState, len(ts))
	for i, t := range ts {
		out[i] = TargetState{GWLB: t.GWLB, Node: t.Node, Target: t.Target, IP: t.IP, State: t.State, Reason: t.Reason}
	}
	return out, nil
}

func (l *managerLab) Drops(ctx context.Context) (map[string]uint64, error) {
	var c api.Counters
	if err := l.c.Get(ctx, "/v1/counters", &c); err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for k, v := range c.Drops {
		out[k] += v
	}
	for _, m := range c.GWLB {
		for k, v := range m.Drops {
			out[k] += v
		}
	}
	return out, nil
}

func (l *managerLab) Trace(ctx context.Context, hosts []netip.Addr, fn func(Trace)) (<-chan struct{}, error) {
	q := url.Values{}
	for _, h := range hosts {
		q.Add("host", h.String())
	}
	body, err := l.c.Stream(ctx, "/v1/trace?"+q.Encode())
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer body.Close()
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var t api.Trace
			if json.Unmarshal(sc.Bytes(), &t) == nil {
				fn(Trace{Time: t.Time, From: t.From, Packet: t.Packet, Hops: t.Hops, Result: t.Result})
			}
		}
	}()
	return done, nil
}

func (l *managerLab) FlowLog(_ context.Context, node string) ([]FlowLogRecord, error) {
	recs, err := labapi.ReadFlowLog(l.paths.FlowLog(node))
	if err != nil {
		return nil, err
	}
	out := make([]FlowLogRecord, len(recs))
	for i, r := range recs {
		out[i] = FlowLogRecord{Time: r.Time, Event: r.Event, Src: r.Src, Dst: r.Dst, Proto: r.Proto,
			SrcPort: r.SrcPort, DstPort: r.DstPort, Dir: r.Dir, Cookie: r.Cookie, Reason: r.Reason}
	}
	return out, nil
}

func (l *managerLab) Node(ctx context.Context, verb, node string) error {
	switch verb {
	case "stop":
		return l.m.NodeStop(ctx, l.name, node)
	case "start":
		return l.m.NodeStart(ctx, l.name, node)
	case "restart":
		return l.m.NodeRestart(ctx, l.name, node)
	case "pause":
		return l.m.NodePause(ctx, l.name, node)
	case "unpause":
		return l.m.NodeUnpause(ctx, l.name, node)
	}
	return fmt.Errorf("node %s: no verb %q", verb, node)
}

func (l *managerLab) Target(ctx context.Context, verb, gwlbName, id string) error {
	// The control API names a target by name or address; without a GWLB,
	// in every target group that has it.
	var out map[string]string
	return l.c.Post(ctx, api.TargetPath(id, verb)+api.RegisterQuery(gwlbName), nil, &out)
}

func (l *managerLab) Health(ctx context.Context, gwlbName, id string, fail bool) error {
	var out api.HealthOverrideResult
	return l.c.Put(ctx, "/v1/targets/"+url.PathEscape(id)+"/health", api.HealthOverride{Fail: fail, GWLB: gwlbName}, &out)
}

func (l *managerLab) Link(ctx context.Context, node string, e LinkEdit) error {
	var ch api.LinkChange
	ch.Down, ch.LossPercent = e.Down, e.Loss
	if e.Delay != nil {
		d := e.Delay.String()
		ch.Delay = &d
	}
	if e.Jitter != nil {
		j := e.Jitter.String()
		ch.Jitter = &j
	}
	var out api.Link
	return l.c.Patch(ctx, "/v1/links/"+url.PathEscape(node), ch, &out)
}

func (l *managerLab) Route(ctx context.Context, vpc, table, action string, dest netip.Prefix, target string) error {
	var out api.RouteTable
	return l.c.Post(ctx, "/v1/routes/"+url.PathEscape(table),
		api.RouteEdit{Op: action, VPC: vpc, Destination: dest.String(), Target: target}, &out)
}

func (l *managerLab) SetDesired(ctx context.Context, group string, n int) error {
	var out api.ASG
	return l.c.Post(ctx, api.ASGPath(group, "desired"), api.DesiredRequest{Desired: n}, &out)
}

func (l *managerLab) ASGs(ctx context.Context) ([]ASGState, error) {
	var gs []api.ASG
	if err := l.c.Get(ctx, api.PathASGs, &gs); err != nil {
		return nil, err
	}
	out := make([]ASGState, len(gs))
	for i, g := range gs {
		out[i] = ASGState{Name: g.Name, Desired: g.Desired}
		for _, in := range g.Instances {
			out[i].Instances = append(out[i].Instances, ASGInstanceState{Name: in.Name, IP: in.IP, State: in.State, Targets: in.Targets})
		}
	}
	return out, nil
}
