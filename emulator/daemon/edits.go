package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/asg"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/internal/jsonfile"
)

// savedEdits are the runtime edits in force, as the emulator keeps them in
// its edits file so that the next emulator of the lab (emulator restart)
// applies them again.
type savedEdits struct {
	// Nodes are the nodes added at run time and still in the lab, in the
	// order they came; they are added again first, as the edits below may
	// name them.
	Nodes  []api.Node                  `json:"nodes,omitempty"`
	Links  map[string]api.LinkSettings `json:"links,omitempty"`
	Health []savedHealth               `json:"failing_health_checks,omitempty"`
	Routes []savedTable                `json:"route_tables,omitempty"`
	// Targets are the targets registered at run time that the
	// configuration's target groups do not list, while registered.
	Targets []savedTarget `json:"targets,omitempty"`
	// Deregistered are the targets deregistered at run time: those the
	// configuration lists (draining or unused), and those registered at
	// run time while they drain. A deregistration keeps the end of its
	// draining as a wall-clock time, so the next emulator (whose lab
	// clock starts afresh) drains for the rest of the delay only.
	Deregistered []savedDeregistered `json:"deregistered_targets,omitempty"`
	// ASGs are the Auto Scaling groups' instances and capacities, taken
	// back after the nodes and targets above.
	ASGs []asg.Saved `json:"autoscaling_groups,omitempty"`
}

// savedTarget is a target registered at run time.
type savedTarget struct {
	GWLB   string `json:"gwlb"`
	Target string `json:"target"` // the node's name
	IP     string `json:"ip"`
}

// savedDeregistered is a deregistered target.
type savedDeregistered struct {
	GWLB   string `json:"gwlb"`
	Target string `json:"target"` // the node's name
	IP     string `json:"ip"`
	// DrainingUntil is when its draining ends (wall clock); zero once the
	// deregistration delay is over.
	DrainingUntil time.Time `json:"draining_until,omitzero"`
}

type savedHealth struct {
	Target string `json:"target"`
	Node   string `json:"node"`
}

// savedTable is a route table whose routes differ from the configuration's.
type savedTable struct {
	VPC    string         `json:"vpc"`
	Name   string         `json:"name"`
	Routes []config.Route `json:"routes"`
}

// KeepEdits makes the daemon keep its runtime edits in path, replaced after
// every edit, and applies the edits path holds now, if it exists. An edit
// that no longer applies is skipped; the error says which. Call it before
// Run.
func (d *Daemon) KeepEdits(path string) error {
	d.editsMu.Lock()
	defer d.editsMu.Unlock()
	d.editsPath = path
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var s savedEdits
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("runtime edits %s: %w (the emulator runs without them)", path, err)
	}
	var errs []error
	for _, n := range s.Nodes {
		if _, err := d.addNode(n); err != nil {
			errs = append(errs, fmt.Errorf("node %q: %w", n.Name, err))
		}
	}
	for _, t := range s.Routes {
		if err := d.fabric.RestoreRoutes(t.VPC, t.Name, t.Routes); err != nil {
			errs = append(errs, fmt.Errorf("route table %q of vpc %q: %w", t.Name, t.VPC, err))
		}
	}
	for _, t := range s.Targets {
		// The address is what both target types accept; the name must
		// still be the node that has it.
		if in, err := d.findInstance(t.IP); err != nil || in.eni.Node != t.Target {
			errs = append(errs, fmt.Errorf("target %q (%s) of gwlb %q: no longer an instance of the lab", t.Target, t.IP, t.GWLB))
			continue
		}
		if _, err := d.register(t.IP, t.GWLB); err != nil {
			errs = append(errs, fmt.Errorf("target %q of gwlb %q: %w", t.Target, t.GWLB, err))
		}
	}
	for _, t := range s.Deregistered {
		if err := d.restoreDeregistered(t); err != nil {
			errs = append(errs, fmt.Errorf("deregistered target %q of gwlb %q: %w", t.Target, t.GWLB, err))
		}
	}
	for node, ls := range s.Links {
		imp, err := linkIn(ls)
		if err == nil {
			err = d.fabric.SetLink(node, imp)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("link of %q: %w", node, err))
		}
	}
	for _, h := range s.Health {
		if _, err := d.fabric.ForceHealthFailure("", h.Target, h.Node, true); err != nil {
			errs = append(errs, fmt.Errorf("health checks of %q from %q: %w", h.Target, h.Node, err))
		}
	}
	if d.asg != nil && len(s.ASGs) > 0 {
		d.asg.Restore(s.ASGs)
	}
	if len(errs) > 0 {
		return fmt.Errorf("runtime edits %s: some no longer apply: %w", path, errors.Join(errs...))
	}
	return nil
}

// saveEdits writes the edits in force to the edits file, if the daemon
// keeps one. Handlers call it after every edit.
func (d *Daemon) saveEdits() error {
	d.editsMu.Lock()
	defer d.editsMu.Unlock()
	if d.editsPath == "" {
		return nil
	}
	s := savedEdits{Links: map[string]api.LinkSettings{}}
	for _, n := range d.fabric.AddedNodes() {
		s.Nodes = append(s.Nodes, nodeOut(n))
	}
	for _, l := range d.fabric.Links() {
		if ls := linkOut(l).LinkSettings; ls != (api.LinkSettings{}) {
			s.Links[l.Node] = ls
		}
	}
	for _, th := range d.fabric.Targets() {
		if th.ForcedFailure {
			name := th.Target
			if name == "" {
				name = th.IP
			}
			s.Health = append(s.Health, savedHealth{Target: name, Node: th.Node})
		}
	}
	for _, g := range d.snap.GWLBs {
		lb, err := d.chooseLB(g.Name)
		if err != nil {
			continue
		}
		now := d.clock.Now()
		for _, t := range lb.Targets() {
			listed := slices.ContainsFunc(g.TargetGroup.Targets, func(c config.Target) bool { return c.IP == t.IP })
			if at, ok := lb.DeregisteredAt(t); ok {
				sd := savedDeregistered{GWLB: g.Name, Target: t.Name, IP: t.IP.String()}
				if lb.Draining(t, now) {
					sd.DrainingUntil = time.Now().Add(d.clock.Wall(at.Add(lb.DeregistrationDelay()).Sub(now))).Round(0)
				}
				if listed || (!sd.DrainingUntil.IsZero() && d.isInstance(t.Name, t.IP.String())) {
					s.Deregistered = append(s.Deregistered, sd)
				}
				continue
			}
			if !listed {
				s.Targets = append(s.Targets, savedTarget{GWLB: g.Name, Target: t.Name, IP: t.IP.String()})
			}
		}
	}
	if d.asg != nil {
		s.ASGs = d.asg.Save()
	}
	running := d.fabric.Snapshot()
	for vi, v := range running.VPCs {
		for ti, rt := range v.RouteTables {
			if !slices.Equal(rt.Routes, d.snap.VPCs[vi].RouteTables[ti].Routes) {
				s.Routes = append(s.Routes, savedTable{VPC: v.Name, Name: rt.Name, Routes: rt.Routes})
			}
		}
	}
	if err := jsonfile.Write(d.editsPath, s, 0o600, true); err != nil {
		return fmt.Errorf("the edit is in force but could not be kept for the next emulator: %w", err)
	}
	return nil
}

// restoreDeregistered takes back a deregistration a previous emulator
// kept: the target is deregistered since the lab time that leaves it the
// rest of its draining (none once DrainingUntil has passed), and the end
// of its draining is an event as usual.
func (d *Daemon) restoreDeregistered(sd savedDeregistered) error {
	lb, err := d.chooseLB(sd.GWLB)
	if err != nil {
		return err
	}
	t := lb.Target(sd.IP)
	if t == nil {
		// Registered at run time: it is a target again while it drains.
		if sd.DrainingUntil.IsZero() || !time.Now().Before(sd.DrainingUntil) {
			return nil // drained while no emulator ran
		}
		in, err := d.findInstance(sd.IP)
		if err != nil || in.eni.Node != sd.Target {
			return errors.New("no longer an instance of the lab")
		}
		t, _, err = lb.Add(config.Target{Name: in.eni.Node, IP: in.eni.IP, AZ: in.az})
		if err != nil {
			return err
		}
		d.startChecks(lb, t)
	}
	now := d.clock.Now()
	left := time.Duration(0)
	if !sd.DrainingUntil.IsZero() {
		left = max(time.Duration(float64(time.Until(sd.DrainingUntil))*d.clock.Scale()), 0)
	}
	if err := lb.DeregisterSince(sd.IP, now.Add(left-lb.DeregistrationDelay())); err != nil {
		return err
	}
	if left > 0 {
		d.drainEnd(lb, t, left)
	}
	return nil
}

// isInstance reports whether the node named has the address (a target
// registered at run time whose node is removed is not kept).
func (d *Daemon) isInstance(node, ip string) bool {
	in, err := d.findInstance(ip)
	return err == nil && in.eni.Node == node
}
