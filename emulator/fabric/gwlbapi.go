package fabric

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/flow"
	"github.com/gwlb-lab/gwlb-lab/emulator/gwlb"
)

// FlowQuery selects flows of a listing by the names users know.
type FlowQuery struct {
	GWLB     string // load balancer name
	Node     string // GWLB node name
	Endpoint string // GWLB endpoint name or id (vpce-…)
	Target   string // target name or address
	// Hosts selects flows with either end in one of the prefixes.
	Hosts []netip.Prefix
	Proto int // IP protocol number; 0 for any
}

// WalkFlows calls fn with every live flow q selects: load balancers by
// name, then their nodes, then each node's endpoints, then table order. A
// name in q that the lab does not have is ErrNotFound, before any flow is
// visited, so a typo is not mistaken for an empty listing. The walk copies
// flows a chunk at a time into one buffer (flow.WalkChunk flows), and fn
// runs with no lock held: a slow reader slows the listing, not the data
// path. It reports whether it reached the end.
func (f *Fabric) WalkFlows(q FlowQuery, fn func(gwlb.FlowRef) bool) (bool, error) {
	filter, err := f.flowFilter(q)
	if err != nil {
		return false, err
	}
	now := f.clock.Now()
	buf := make([]flow.Entry, flow.WalkChunk)
	for _, lb := range f.LBs() {
		for _, n := range lb.Nodes() {
			if !n.WalkFlows(now, &filter, buf, fn) {
				return false, nil
			}
		}
	}
	return true, nil
}

func (f *Fabric) flowFilter(q FlowQuery) (gwlb.FlowFilter, error) {
	filter := gwlb.FlowFilter{GWLB: q.GWLB, Node: q.Node, Target: q.Target, Hosts: q.Hosts, Proto: q.Proto}
	if q.GWLB != "" {
		if _, ok := f.rt.lbs[q.GWLB]; !ok {
			return filter, fmt.Errorf("gwlb %q: %w", q.GWLB, ErrNotFound)
		}
	}
	if q.Node != "" && !slices.ContainsFunc(f.LBs(), func(lb *gwlb.LB) bool {
		return slices.ContainsFunc(lb.Nodes(), func(n *gwlb.Node) bool { return n.Name == q.Node })
	}) {
		return filter, fmt.Errorf("gwlb node %q: %w", q.Node, ErrNotFound)
	}
	if q.Target != "" && !slices.ContainsFunc(f.LBs(), func(lb *gwlb.LB) bool { return lb.HasTarget(q.Target) }) {
		return filter, fmt.Errorf("target %q: %w in any target group", q.Target, ErrNotFound)
	}
	if q.Endpoint != "" {
		filter.Endpoints = []uint64{}
		for num, ep := range f.lab.Load().endpoints {
			if ep.cfg.Name == q.Endpoint || ep.cfg.ID == q.Endpoint {
				filter.Endpoints = append(filter.Endpoints, num)
			}
		}
		if len(filter.Endpoints) == 0 {
			return filter, fmt.Errorf("gwlb endpoint %q: %w", q.Endpoint, ErrNotFound)
		}
	}
	return filter, nil
}

// Flows lists the live flows of every GWLB node, each node's oldest first
// (in-process callers and tests; the control API streams with WalkFlows).
func (f *Fabric) Flows() []api.Flow {
	now := f.clock.Now()
	out := []api.Flow{}
	for _, name := range sortedKeys(f.rt.lbs) {
		for _, n := range f.rt.lbs[name].Nodes() {
			out = append(out, n.Flows(now)...)
		}
	}
	return out
}

// GWLBMetrics returns every GWLB node's metrics.
func (f *Fabric) GWLBMetrics() []api.GWLBMetrics {
	now := f.clock.Now()
	var out []api.GWLBMetrics
	for _, name := range sortedKeys(f.rt.lbs) {
		for _, n := range f.rt.lbs[name].Nodes() {
			out = append(out, n.Metrics(now))
		}
	}
	return out
}

// Endpoints lists the GWLB endpoints.
func (f *Fabric) Endpoints() []api.Endpoint {
	var out []api.Endpoint
	for _, ep := range f.lab.Load().endpoints {
		st := api.Endpoint{Name: ep.cfg.Name, ID: ep.cfg.ID, Subnet: ep.cfg.Subnet, AZ: ep.cfg.AZ,
			Service: ep.cfg.Service, GWLB: ep.cfg.GWLB, Node: ep.cfg.GWLBNode, State: "available"}
		if !ep.accepted.Load() {
			st.State = "pendingAcceptance"
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// AcceptEndpoint accepts a pending endpoint connection; accepting an
// accepted endpoint is not an error.
func (f *Fabric) AcceptEndpoint(name string) error {
	a, ok := f.rt.accepted[name]
	if !ok {
		return fmt.Errorf("gwlb endpoint %q: %w", name, ErrNotFound)
	}
	a.Store(true)
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// LBs returns the load balancers, by name.
func (f *Fabric) LBs() []*gwlb.LB {
	var out []*gwlb.LB
	for _, name := range sortedKeys(f.rt.lbs) {
		out = append(out, f.rt.lbs[name])
	}
	return out
}

// Now is the lab time.
func (f *Fabric) Now() time.Time { return f.clock.Now() }

// Targets reports every target's health as each GWLB node sees it.
func (f *Fabric) Targets() []api.TargetHealth {
	now := f.clock.Now()
	out := []api.TargetHealth{}
	for _, lb := range f.LBs() {
		for _, n := range lb.Nodes() {
			out = append(out, n.Targets(now)...)
		}
	}
	return out
}

// Deregister deregisters the target (a name or an address) from every
// target group that has it.
func (f *Fabric) Deregister(target string) error {
	found := false
	for _, lb := range f.LBs() {
		if err := lb.Deregister(target, f.clock.Now()); err == nil {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("target %q: %w in any target group", target, ErrNotFound)
	}
	return nil
}

// Register registers the target again in every target group that has it
// and returns, per load balancer, the target's index (for its checks to
// start over).
func (f *Fabric) Register(target string) (map[*gwlb.LB]int, error) {
	out := map[*gwlb.LB]int{}
	for _, lb := range f.LBs() {
		if t, err := lb.Register(target); err == nil {
			out[lb] = t.Index()
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("target %q: %w in any target group", target, ErrNotFound)
	}
	return out, nil
}
