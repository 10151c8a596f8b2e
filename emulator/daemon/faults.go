package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/emulator/fabric"
)

// faultHandlers registers the control API of faults and runtime edits:
// link impairments, health checks forced to fail, route edits.
func (d *Daemon) faultHandlers(s *control.Server) {
	s.Handle("GET /v1/links", func(*http.Request) (any, error) {
		out := []api.Link{}
		for _, l := range d.fabric.Links() {
			out = append(out, linkOut(l))
		}
		return out, nil
	})
	s.Handle("GET /v1/links/{node}", func(r *http.Request) (any, error) {
		l, err := d.fabric.Link(r.PathValue("node"))
		if err != nil {
			return nil, apiError(err)
		}
		return linkOut(l), nil
	})
	s.Handle("PUT /v1/links/{node}", func(r *http.Request) (any, error) {
		var in api.LinkSettings
		if err := control.Decode(r, &in); err != nil {
			return nil, err
		}
		imp, err := linkIn(in)
		if err != nil {
			return nil, control.BadRequest(err)
		}
		return d.setLink(r.PathValue("node"), imp)
	})
	s.Handle("PATCH /v1/links/{node}", func(r *http.Request) (any, error) {
		var in api.LinkChange
		if err := control.Decode(r, &in); err != nil {
			return nil, err
		}
		node := r.PathValue("node")
		var perr error
		err := d.fabric.UpdateLink(node, func(cur fabric.LinkImpairment) fabric.LinkImpairment {
			next, err := linkChange(cur, in)
			perr = err
			if err != nil {
				return cur
			}
			return next
		})
		if perr != nil {
			return nil, control.BadRequest(perr)
		}
		if err != nil {
			return nil, apiError(err)
		}
		if err := d.saveEdits(); err != nil {
			return nil, err
		}
		l, err := d.fabric.Link(node)
		if err != nil {
			return nil, apiError(err)
		}
		d.linkEvent(l)
		return linkOut(l), nil
	})
	s.Handle("DELETE /v1/links/{node}", func(r *http.Request) (any, error) {
		return d.setLink(r.PathValue("node"), fabric.LinkImpairment{})
	})
	s.Handle("PUT /v1/targets/{name}/health", func(r *http.Request) (any, error) {
		var in api.HealthOverride
		if err := control.Decode(r, &in); err != nil {
			return nil, err
		}
		name := r.PathValue("name")
		nodes, err := d.fabric.ForceHealthFailure(in.GWLB, name, in.Node, in.Fail)
		if err != nil {
			return nil, apiError(err)
		}
		d.events.add(api.Event{Kind: api.EventHealthForced, GWLB: in.GWLB, Target: name,
			Detail: fmt.Sprintf("fail %v on %s", in.Fail, strings.Join(nodes, ", "))})
		if err := d.saveEdits(); err != nil {
			return nil, err
		}
		return api.HealthOverrideResult{Target: name, Fail: in.Fail, Nodes: nodes}, nil
	})
	s.Handle("GET /v1/routes", func(*http.Request) (any, error) {
		out := []api.RouteTable{}
		for _, t := range d.fabric.RouteTables() {
			out = append(out, tableOut(t))
		}
		return out, nil
	})
	s.Handle("POST /v1/routes/{table}", func(r *http.Request) (any, error) {
		var in api.RouteEdit
		if err := control.Decode(r, &in); err != nil {
			return nil, err
		}
		e := fabric.RouteEdit{Op: in.Op, VPC: in.VPC, Table: r.PathValue("table"), Target: in.Target}
		dst, err := netip.ParsePrefix(in.Destination)
		if err != nil {
			return nil, control.BadRequest(fmt.Errorf("destination %q is not a CIDR (such as 10.0.1.0/24 or 0.0.0.0/0)", in.Destination))
		}
		e.Destination = dst
		t, err := d.fabric.EditRoute(e)
		if err != nil {
			return nil, apiError(err)
		}
		d.events.add(api.Event{Kind: api.EventRouteEdit,
			Detail: fmt.Sprintf("%s %s -> %s in route table %s of vpc %s", in.Op, dst, in.Target, t.Name, t.VPC)})
		if err := d.saveEdits(); err != nil {
			return nil, err
		}
		return tableOut(t), nil
	})
}

func (d *Daemon) setLink(node string, imp fabric.LinkImpairment) (any, error) {
	if err := d.fabric.SetLink(node, imp); err != nil {
		return nil, apiError(err)
	}
	if err := d.saveEdits(); err != nil {
		return nil, err
	}
	l, err := d.fabric.Link(node)
	if err != nil {
		return nil, apiError(err)
	}
	d.linkEvent(l)
	return linkOut(l), nil
}

// linkEvent records a link's impairment as it is now.
func (d *Daemon) linkEvent(l fabric.LinkStatus) {
	ls := linkOut(l).LinkSettings
	detail := "clear"
	if ls != (api.LinkSettings{}) {
		b, _ := json.Marshal(ls)
		detail = string(b)
	}
	d.events.add(api.Event{Kind: api.EventLink, Node: l.Node, Detail: detail})
}

// apiError maps the fabric's errors to the control socket's statuses.
func apiError(err error) error {
	switch {
	case errors.Is(err, fabric.ErrNotFound):
		return control.NotFound(err)
	case errors.Is(err, fabric.ErrInvalid):
		return control.BadRequest(err)
	}
	return err
}

func linkIn(in api.LinkSettings) (fabric.LinkImpairment, error) {
	imp := fabric.LinkImpairment{Down: in.Down, LossPercent: in.LossPercent}
	for _, f := range []struct {
		name, val string
		dst       *time.Duration
	}{{"delay", in.Delay, &imp.Delay}, {"jitter", in.Jitter, &imp.Jitter}} {
		if f.val == "" {
			continue
		}
		v, err := time.ParseDuration(f.val)
		if err != nil {
			return imp, fmt.Errorf("%s %q is not a duration (such as 40ms or 1.5s)", f.name, f.val)
		}
		*f.dst = v
	}
	return imp, imp.Validate()
}

// linkChange applies a PATCH to a link's impairment.
func linkChange(cur fabric.LinkImpairment, c api.LinkChange) (fabric.LinkImpairment, error) {
	next := cur
	if c.Down != nil {
		next.Down = *c.Down
	}
	if c.LossPercent != nil {
		next.LossPercent = *c.LossPercent
	}
	for _, f := range []struct {
		name string
		val  *string
		dst  *time.Duration
	}{{"delay", c.Delay, &next.Delay}, {"jitter", c.Jitter, &next.Jitter}} {
		if f.val == nil {
			continue
		}
		*f.dst = 0
		if *f.val == "" {
			continue
		}
		v, err := time.ParseDuration(*f.val)
		if err != nil {
			return cur, fmt.Errorf("%s %q is not a duration (such as 40ms or 1.5s)", f.name, *f.val)
		}
		*f.dst = v
	}
	if next.Delay == 0 && c.Jitter == nil {
		next.Jitter = 0 // no delay left to vary
	}
	return next, next.Validate()
}

func linkOut(l fabric.LinkStatus) api.Link {
	out := api.Link{Node: l.Node, LinkSettings: api.LinkSettings{Down: l.Down, LossPercent: l.LossPercent},
		Dropped: api.LinkDrops{Down: l.DroppedDown, Loss: l.DroppedLoss, QueueFull: l.DroppedQueueFull},
		Delayed: l.Delayed, Queued: l.Queued}
	if l.Delay > 0 {
		out.Delay = l.Delay.String()
	}
	if l.Jitter > 0 {
		out.Jitter = l.Jitter.String()
	}
	return out
}

func tableOut(t fabric.RouteTable) api.RouteTable {
	out := api.RouteTable{VPC: t.VPC, Name: t.Name, EdgeAssociation: t.Edge, Subnets: t.Subnets, Routes: []api.Route{}}
	for _, r := range t.Routes {
		target := r.Target
		if target == "" {
			target = r.Kind
		}
		out.Routes = append(out.Routes, api.Route{Destination: r.Destination.String(), Target: target, Kind: r.Kind, Implicit: r.Implicit})
	}
	return out
}
