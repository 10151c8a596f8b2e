package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

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
		for _, t := range lb.Targets() {
			if !lb.Registered(t) || slices.ContainsFunc(g.TargetGroup.Targets, func(c config.Target) bool { return c.IP == t.IP }) {
				continue
			}
			s.Targets = append(s.Targets, savedTarget{GWLB: g.Name, Target: t.Name, IP: t.IP.String()})
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
