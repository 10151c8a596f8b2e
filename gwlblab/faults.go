package gwlblab

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

// Faults and runtime edits, through the emulator's control socket: link
// impairments, health checks forced to fail and route table edits. They
// last until changed or cleared; an emulator restart applies them again,
// and Down removes them with the lab (see gwlb-lab link, targets
// fail-health and route).

// Impairment is what a link does to its frames. Down drops every frame to
// and from the node; LossPercent (0 to 100) and Delay, give or take a
// uniformly drawn Jitter (at most Delay), apply to the frames delivered to
// the node, in lab time. The zero Impairment is a healthy link.
type Impairment struct {
	Down        bool
	LossPercent float64
	Delay       time.Duration
	Jitter      time.Duration
}

func (i Impairment) settings() api.LinkSettings {
	s := api.LinkSettings{Down: i.Down, LossPercent: i.LossPercent}
	if i.Delay != 0 {
		s.Delay = i.Delay.String()
	}
	if i.Jitter != 0 {
		s.Jitter = i.Jitter.String()
	}
	return s
}

// NodeLink is one node's link (its eth0, as the emulator sees it), for
// the calls that impair it.
type NodeLink struct {
	lab  *Lab
	node string
}

// Link returns the link of the node of that name (not checked until used).
func (l *Lab) Link(node string) *NodeLink { return &NodeLink{lab: l, node: node} }

// Node is the name of the link's node.
func (k *NodeLink) Node() string { return k.node }

// Set replaces the link's whole impairment with imp and returns the link
// as it then is. A bad setting (loss over 100, a jitter without a delay)
// is ErrBadRequest; an unknown node ErrNotFound.
func (k *NodeLink) Set(ctx context.Context, imp Impairment) (api.Link, error) {
	var out api.Link
	err := k.lab.ctl.callJSON(ctx, http.MethodPut, api.LinkPath(k.node), imp.settings(), &out)
	return out, err
}

// Change changes only the fields c gives (Down, LossPercent, Delay,
// Jitter) and keeps the others, as gwlb-lab link set does.
func (k *NodeLink) Change(ctx context.Context, c api.LinkChange) (api.Link, error) {
	var out api.Link
	err := k.lab.ctl.callJSON(ctx, http.MethodPatch, api.LinkPath(k.node), c, &out)
	return out, err
}

// Clear removes every impairment of the link. Frames a delay holds still
// leave at their time.
func (k *NodeLink) Clear(ctx context.Context) (api.Link, error) {
	var out api.Link
	err := k.lab.ctl.call(ctx, http.MethodDelete, api.LinkPath(k.node), &out)
	return out, err
}

// Get returns the link: its impairment and what it dropped and delayed
// since the emulator started.
func (k *NodeLink) Get(ctx context.Context) (api.Link, error) {
	var out api.Link
	err := k.lab.ctl.call(ctx, http.MethodGet, api.LinkPath(k.node), &out)
	return out, err
}

// Links returns every node's link, impaired or not.
func (l *Lab) Links(ctx context.Context) ([]api.Link, error) {
	var out []api.Link
	err := l.ctl.call(ctx, http.MethodGet, api.PathLinks, &out)
	return out, err
}

// FailHealth forces every health check of target (a name or an address)
// to fail, from every GWLB node that checks it: the target turns unhealthy
// after its target group's unhealthy_threshold checks, as when the
// appliance stops answering. Wait for that with WaitTarget. It returns the
// GWLB nodes it changed. A target registered with several GWLBs is
// "GWLB/TARGET" here; OverrideHealth limits the change to one GWLB node.
func (l *Lab) FailHealth(ctx context.Context, target string) (api.HealthOverrideResult, error) {
	return l.OverrideHealth(ctx, target, api.HealthOverride{Fail: true})
}

// ClearHealth undoes FailHealth: the GWLB nodes probe target again, and it
// turns healthy after healthy_threshold answered checks.
func (l *Lab) ClearHealth(ctx context.Context, target string) (api.HealthOverrideResult, error) {
	return l.OverrideHealth(ctx, target, api.HealthOverride{})
}

// OverrideHealth sends o for target: o.Fail forces its checks to fail (or
// clears that) from every GWLB node that checks it, or only from the nodes
// of o.GWLB, or from o.Node alone. target may be "GWLB/TARGET".
func (l *Lab) OverrideHealth(ctx context.Context, target string, o api.HealthOverride) (api.HealthOverrideResult, error) {
	if g, name, ok := strings.Cut(target, "/"); ok {
		if o.GWLB != "" && o.GWLB != g {
			return api.HealthOverrideResult{}, fmt.Errorf("gwlblab: target %q names GWLB %s, the override GWLB %s: give one", target, g, o.GWLB)
		}
		o.GWLB, target = g, name
	}
	var out api.HealthOverrideResult
	err := l.ctl.callJSON(ctx, http.MethodPut, api.HealthPath(target), o, &out)
	return out, err
}

// Routes returns the route tables as the emulator runs them, runtime edits
// and the implicit local routes included.
func (l *Lab) Routes(ctx context.Context) ([]api.RouteTable, error) {
	var out []api.RouteTable
	err := l.ctl.call(ctx, http.MethodGet, api.PathRoutes, &out)
	return out, err
}

// RouteTable returns one route table as the emulator runs it; table is its
// name, or VPC/TABLE when several VPCs have a table of that name.
func (l *Lab) RouteTable(ctx context.Context, table string) (api.RouteTable, error) {
	ts, err := l.Routes(ctx)
	if err != nil {
		return api.RouteTable{}, err
	}
	vpc, name := splitTable(table)
	var found []api.RouteTable
	for _, t := range ts {
		if t.Name == name && (vpc == "" || t.VPC == vpc) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return api.RouteTable{}, fmt.Errorf("route table %q: %w (Routes lists them)", table, ErrNotFound)
	case 1:
		return found[0], nil
	}
	return api.RouteTable{}, fmt.Errorf("route table %q: several VPCs have one of that name: write VPC/%s", table, name)
}

func splitTable(table string) (vpc, name string) {
	if v, t, ok := strings.Cut(table, "/"); ok {
		return v, t
	}
	return "", table
}

// AddRoute adds a route for dest (a CIDR) to target in table (its name, or
// VPC/TABLE), as CreateRoute does, and returns the table as it then is.
// target is local, blackhole, or the name of the VPC's internet gateway,
// or of one of its NAT gateways, GWLB endpoints or instances. The emulator
// checks the edit as it checks the topology file's routes; a refused edit
// is ErrBadRequest, says why, and changes nothing.
func (l *Lab) AddRoute(ctx context.Context, table, dest, target string) (api.RouteTable, error) {
	return l.EditRoute(ctx, table, api.RouteEdit{Op: api.RouteAdd, Destination: dest, Target: target})
}

// ReplaceRoute sends dest, which table routes already, to target instead
// (ReplaceRoute).
func (l *Lab) ReplaceRoute(ctx context.Context, table, dest, target string) (api.RouteTable, error) {
	return l.EditRoute(ctx, table, api.RouteEdit{Op: api.RouteReplace, Destination: dest, Target: target})
}

// DeleteRoute deletes table's route for dest (DeleteRoute); with a target
// other than "", only if the route goes there.
func (l *Lab) DeleteRoute(ctx context.Context, table, dest, target string) (api.RouteTable, error) {
	return l.EditRoute(ctx, table, api.RouteEdit{Op: api.RouteDelete, Destination: dest, Target: target})
}

// EditRoute applies e to table (its name, or VPC/TABLE) and returns the
// table as it then is.
func (l *Lab) EditRoute(ctx context.Context, table string, e api.RouteEdit) (api.RouteTable, error) {
	vpc, name := splitTable(table)
	if vpc != "" {
		if e.VPC != "" && e.VPC != vpc {
			return api.RouteTable{}, fmt.Errorf("gwlblab: table %q names VPC %s, the edit VPC %s: give one", table, vpc, e.VPC)
		}
		e.VPC = vpc
	}
	var out api.RouteTable
	err := l.ctl.callJSON(ctx, http.MethodPost, api.RoutePath(name), e, &out)
	return out, err
}
