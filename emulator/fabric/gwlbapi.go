package fabric

import (
	"fmt"
	"sort"

	"github.com/gwlb-lab/gwlb-lab/emulator/gwlb"
)

// Flows lists the live flows of every GWLB node.
func (f *Fabric) Flows() []gwlb.Flow {
	now := f.clock.Now()
	out := []gwlb.Flow{}
	for _, name := range sortedKeys(f.rt.lbs) {
		for _, n := range f.rt.lbs[name].Nodes() {
			out = append(out, n.Flows(now)...)
		}
	}
	return out
}

// GWLBMetrics returns every GWLB node's metrics.
func (f *Fabric) GWLBMetrics() []gwlb.Metrics {
	now := f.clock.Now()
	var out []gwlb.Metrics
	for _, name := range sortedKeys(f.rt.lbs) {
		for _, n := range f.rt.lbs[name].Nodes() {
			out = append(out, n.Metrics(now))
		}
	}
	return out
}

// EndpointStatus is a GWLB endpoint as `gwlb-lab endpoints` shows it.
type EndpointStatus struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Subnet  string `json:"subnet"`
	AZ      string `json:"az"`
	Service string `json:"service"`
	GWLB    string `json:"gwlb,omitempty"`
	Node    string `json:"gwlb_node,omitempty"`
	// State is available or pendingAcceptance, as AWS names them.
	State string `json:"state"`
}

// Endpoints lists the GWLB endpoints.
func (f *Fabric) Endpoints() []EndpointStatus {
	var out []EndpointStatus
	for _, ep := range f.lab.Load().endpoints {
		st := EndpointStatus{Name: ep.cfg.Name, ID: ep.cfg.ID, Subnet: ep.cfg.Subnet, AZ: ep.cfg.AZ,
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
		return fmt.Errorf("no gwlb endpoint %q: %w", name, ErrNotFound)
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
