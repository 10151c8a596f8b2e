package daemon

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/emulator/gwlb"
	"github.com/gwlb-lab/gwlb-lab/emulator/health"
)

// instance is a lab node that can be a target: an ENI in a VPC subnet that
// is not a GWLB node's.
type instance struct {
	vpc string
	az  string
	eni config.ENI
}

// findInstance resolves a target given by node name or address to an
// instance of the lab, or says clearly why it is not one.
func (d *Daemon) findInstance(name string) (instance, error) {
	addr, _ := netip.ParseAddr(name)
	is := func(n string, ip netip.Addr) bool { return n == name || (addr.IsValid() && ip == addr) }
	for _, g := range d.snap.GWLBs {
		for _, n := range g.Nodes {
			if is(n.Name, n.IP) {
				return instance{}, control.BadRequest(fmt.Errorf("%q is a node of gwlb %q, not an instance: a target is an appliance node", name, g.Name))
			}
		}
	}
	var names []string
	var found *instance
	for _, v := range d.fabric.Snapshot().VPCs { // nodes added at run time too
		for _, ep := range v.Endpoints {
			if is(ep.Name, ep.IP) {
				return instance{}, control.BadRequest(fmt.Errorf("%q is a GWLB endpoint, not an instance", name))
			}
		}
		for _, sn := range v.Subnets {
			for _, e := range sn.ENIs {
				if d.isGWLBNode(e.Node) {
					continue
				}
				names = append(names, e.Node)
				if found == nil && is(e.Node, e.IP) {
					found = &instance{vpc: v.Name, az: sn.AZ, eni: e}
				}
			}
		}
	}
	if found != nil {
		return *found, nil
	}
	if d.snap.Internet != nil {
		for _, seg := range d.snap.Internet.Segments {
			for _, h := range seg.Hosts {
				if is(h.Node, h.IP) {
					return instance{}, control.BadRequest(fmt.Errorf("%q is an internet host, not an instance of a VPC", name))
				}
			}
		}
	}
	slices.Sort(names)
	return instance{}, control.NotFound(fmt.Errorf("no instance %q in lab %q; its instances: %s", name, d.snap.Lab, strings.Join(names, ", ")))
}

func (d *Daemon) isGWLBNode(node string) bool {
	for _, g := range d.snap.GWLBs {
		for _, n := range g.Nodes {
			if n.Name == node {
				return true
			}
		}
	}
	return false
}

// chooseLB returns the load balancer named, or the lab's only one.
func (d *Daemon) chooseLB(name string) (*gwlb.LB, error) {
	lbs := d.fabric.LBs()
	var names []string
	for _, lb := range lbs {
		if lb.Name == name || (name == "" && len(lbs) == 1) {
			return lb, nil
		}
		names = append(names, lb.Name)
	}
	switch {
	case len(lbs) == 0:
		return nil, control.BadRequest(fmt.Errorf("lab %q has no GWLB", d.snap.Lab))
	case name == "":
		return nil, control.BadRequest(fmt.Errorf("lab %q has %d GWLBs (%s): name one with --gwlb", d.snap.Lab, len(lbs), strings.Join(names, ", ")))
	}
	return nil, control.NotFound(fmt.Errorf("no gwlb %q in lab %q; its GWLBs: %s", name, d.snap.Lab, strings.Join(names, ", ")))
}

// register registers a target (the caller keeps the edits) (a node name or address) in the target
// group of lbName (every one that has it when empty, or the lab's only one
// for a target no group has yet). A target new to a group starts initial
// and its checks start (spec §4.2).
func (d *Daemon) register(name, lbName string) (api.TargetChange, error) {
	var lbs []*gwlb.LB
	for _, lb := range d.fabric.LBs() {
		if (lbName == "" || lb.Name == lbName) && lb.Target(name) != nil {
			lbs = append(lbs, lb)
		}
	}
	out := api.TargetChange{Target: name, State: api.TargetInitial}
	if len(lbs) > 0 {
		for _, lb := range lbs {
			t, err := lb.Register(name)
			if err != nil {
				return out, err
			}
			d.startChecks(lb, t)
			d.events.add(api.Event{Kind: api.EventTargetRegister, GWLB: lb.Name, Target: t.Name, IP: t.IP.String(),
				State: api.TargetInitial, Reason: health.ReasonInitial})
		}
		return out, nil
	}
	lb, err := d.chooseLB(lbName)
	if err != nil {
		return out, err
	}
	in, err := d.findInstance(name)
	if err != nil {
		return out, err
	}
	if lb.TargetType() == "ip" && name != in.eni.IP.String() {
		return out, control.BadRequest(fmt.Errorf("the target group of gwlb %q has target type ip: register %s by its address, %s", lb.Name, name, in.eni.IP))
	}
	if lb.TargetType() != "ip" && d.lbVPC(lb.Name) != in.vpc {
		return out, control.BadRequest(fmt.Errorf("%s is in vpc %q, gwlb %q in vpc %q: an instance target must be in the load balancer's VPC (or use target type ip)", name, in.vpc, lb.Name, d.lbVPC(lb.Name)))
	}
	t, added, err := lb.Add(config.Target{Name: in.eni.Node, IP: in.eni.IP, AZ: in.az})
	if err != nil {
		return out, control.BadRequest(err)
	}
	d.startChecks(lb, t)
	detail := "registered again"
	if added {
		detail = "new to the target group"
	}
	d.events.add(api.Event{Kind: api.EventTargetRegister, GWLB: lb.Name, Target: t.Name, IP: t.IP.String(),
		State: api.TargetInitial, Reason: health.ReasonInitial, Detail: detail})
	out.Target = t.Name
	return out, nil
}

func (d *Daemon) lbVPC(name string) string {
	for _, g := range d.snap.GWLBs {
		if g.Name == name {
			return g.VPC
		}
	}
	return ""
}

// startChecks (re)starts the health checks of t on every node of lb that
// balances over it: initial, at the regular pace.
func (d *Daemon) startChecks(lb *gwlb.LB, t *gwlb.Target) {
	for _, n := range lb.Nodes() {
		c := d.checkers[n]
		if c == nil || !slices.Contains(n.Candidates(), t) {
			continue
		}
		c.Add(health.Target{Index: t.Index(), IP: t.IP})
	}
}

// deregister deregisters the target from the target group of lbName, or
// from every one that has it, and notes when its draining ends.
func (d *Daemon) deregister(name, lbName string) (api.TargetChange, error) {
	out := api.TargetChange{Target: name, State: api.TargetDraining}
	found := false
	for _, lb := range d.fabric.LBs() {
		t := lb.Target(name)
		if t == nil || (lbName != "" && lb.Name != lbName) {
			continue
		}
		found = true
		was := lb.Registered(t)
		if err := lb.Deregister(name, d.clock.Now()); err != nil {
			return out, err
		}
		if !was {
			continue // draining or unused already
		}
		d.events.add(api.Event{Kind: api.EventTargetDeregister, GWLB: lb.Name, Target: t.Name, IP: t.IP.String(),
			State: api.TargetDraining, Reason: "Target.DeregistrationInProgress",
			Detail: fmt.Sprintf("deregistration delay %s", lb.DeregistrationDelay())})
		d.drainEnd(lb, t, lb.DeregistrationDelay())
	}
	if !found {
		if lbName != "" {
			if _, err := d.chooseLB(lbName); err != nil {
				return out, err
			}
			return out, control.NotFound(fmt.Errorf("target %q is not in the target group of gwlb %q", name, lbName))
		}
		return out, control.NotFound(fmt.Errorf("target %q is in no target group", name))
	}
	return out, nil
}

// drainEnd reports the end of a target's draining, left lab time from now,
// unless it is registered again meanwhile.
func (d *Daemon) drainEnd(lb *gwlb.LB, t *gwlb.Target, left time.Duration) {
	time.AfterFunc(d.clock.Wall(left), func() {
		if !lb.Registered(t) && !lb.Draining(t, d.clock.Now()) {
			d.events.add(api.Event{Kind: api.EventDrainingEnd, GWLB: lb.Name, Target: t.Name, IP: t.IP.String(),
				State: api.TargetUnused, Reason: "Target.NotRegistered"})
		}
	})
}

// reporter is what a node's health checker calls with its verdicts: the
// node records them, and a change of state is an event.
func (d *Daemon) reporter(lb *gwlb.LB, n *gwlb.Node) func(int, health.Status) {
	return func(i int, st health.Status) {
		prev := n.State(i)
		n.SetHealth(i, st)
		if prev == st.State {
			return
		}
		e := api.Event{Kind: api.EventTargetState, GWLB: lb.Name, Node: n.Name, State: st.State.String(), Reason: healthReason(st), Detail: st.LastError}
		if ts := lb.Targets(); i < len(ts) {
			e.Target, e.IP = ts[i].Name, ts[i].IP.String()
		}
		d.events.add(e)
	}
}

func (d *Daemon) targetHandlers(s *control.Server) {
	s.Handle("POST /v1/targets/{name}/deregister", func(r *http.Request) (any, error) {
		out, err := d.deregister(r.PathValue("name"), r.URL.Query().Get("gwlb"))
		if err != nil {
			return nil, err
		}
		return out, d.saveEdits()
	})
	s.Handle("POST /v1/targets/{name}/register", func(r *http.Request) (any, error) {
		out, err := d.register(r.PathValue("name"), r.URL.Query().Get("gwlb"))
		if err != nil {
			return nil, err
		}
		return out, d.saveEdits()
	})
	s.HandleStream("GET "+api.PathEvents, d.serveEvents)
}
