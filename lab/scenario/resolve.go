package scenario

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// The lookups a step's names go through, shared by validation and by
// whoever runs the steps, so that both read a name the same way. Each takes
// the resolved lab (under any lab name) and returns an error that says what
// the lab has instead.

// Target is a registered target as a step names it.
type Target struct {
	// GWLB is the load balancer whose target group holds it.
	GWLB string
	// ID is the target as registered: an instance name or an address.
	ID string
	// Node is the instance node holding it.
	Node string
}

// ResolveTarget finds a registered target named by instance name or
// address, or as GWLB/TARGET.
func ResolveTarget(lab *topology.Lab, name string) (Target, error) {
	gwlb, short, qualified := strings.Cut(name, "/")
	if !qualified {
		short, gwlb = name, ""
	} else if _, ok := lab.GWLB(gwlb); !ok {
		return Target{}, fmt.Errorf("no GWLB %q in the topology", gwlb)
	}
	var found, all []Target
	for _, g := range lab.GWLBs {
		if gwlb != "" && g.Name != gwlb {
			continue
		}
		for _, t := range g.TargetGroup.Targets {
			all = append(all, Target{GWLB: g.Name, ID: t.ID, Node: t.Node})
			if t.ID == short || t.Node == short {
				found = append(found, all[len(all)-1])
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		names := make([]string, len(all))
		for i, t := range all {
			names[i] = t.ID
		}
		return Target{}, fmt.Errorf("%q is not a registered target (targets: %s)", name, list(names))
	}
	alts := make([]string, len(found))
	for i, t := range found {
		alts[i] = t.GWLB + "/" + short
	}
	return Target{}, fmt.Errorf("target %q is registered with more than one GWLB: write %s", name, strings.Join(alts, " or "))
}

// ResolveTable finds a route table named TABLE, or VPC/TABLE.
func ResolveTable(lab *topology.Lab, name string) (*topology.VPC, *topology.RouteTable, error) {
	vpcName, short, qualified := strings.Cut(name, "/")
	if !qualified {
		short, vpcName = name, ""
	}
	var vpcs []*topology.VPC
	var all []string
	for i := range lab.VPCs {
		v := &lab.VPCs[i]
		for _, t := range v.RouteTables {
			all = append(all, v.Name+"/"+t.Name)
		}
		if _, ok := v.RouteTable(short); ok && (vpcName == "" || v.Name == vpcName) {
			vpcs = append(vpcs, v)
		}
	}
	switch len(vpcs) {
	case 1:
		t, _ := vpcs[0].RouteTable(short)
		return vpcs[0], t, nil
	case 0:
		return nil, nil, fmt.Errorf("no route table %q in the topology (tables: %s)", name, list(all))
	}
	alts := make([]string, len(vpcs))
	for i, v := range vpcs {
		alts[i] = v.Name + "/" + short
	}
	return nil, nil, fmt.Errorf("more than one VPC has a route table %q: write %s", name, strings.Join(alts, " or "))
}

// ResolveNode finds a lab node by name.
func ResolveNode(lab *topology.Lab, name string) (*topology.Node, error) {
	if n, ok := lab.Node(name); ok {
		return n, nil
	}
	var names []string
	for _, n := range lab.Nodes {
		if n.Kind != topology.NodeGWLB {
			names = append(names, n.Name)
		}
	}
	return nil, fmt.Errorf("node %q is not in the topology (nodes: %s)", name, list(names))
}

// Destination returns the address traffic from the node from is sent to
// when a step names to: to itself when it is an address; an internet
// host's address; an instance's public address when from is an internet
// host (the only way in from the internet), its private address otherwise.
func Destination(lab *topology.Lab, from, to string) (netip.Addr, error) {
	if looksLikeAddr(to) {
		a, err := netip.ParseAddr(to)
		if err != nil || a.Zone() != "" {
			return netip.Addr{}, fmt.Errorf("to %q is not an IPv4 or IPv6 address", to)
		}
		return a, nil
	}
	n, err := ResolveNode(lab, to)
	if err != nil {
		return netip.Addr{}, err
	}
	switch n.Kind {
	case topology.NodeGWLB:
		return netip.Addr{}, fmt.Errorf("%q is a GWLB node: it answers nothing but GENEVE and its own health checks (spec §4.1); send to an instance or an internet host", to)
	case topology.NodeInternetHost:
		return n.Interface.Addr.Addr(), nil
	}
	if f, ok := lab.Node(from); ok && f.Kind == topology.NodeInternetHost {
		if !n.Interface.PublicIP.IsValid() {
			return netip.Addr{}, fmt.Errorf("instance %q has no public address, so internet host %q cannot reach it by name: give an address, or a public_ip to the instance", to, from)
		}
		return n.Interface.PublicIP, nil
	}
	return n.Interface.Addr.Addr(), nil
}

// looksLikeAddr tells an address from a node name: node names have neither
// dots nor colons.
func looksLikeAddr(s string) bool { return strings.ContainsAny(s, ".:") }

// Defaults of the fields a step may leave out.
const (
	DefaultProtocol    = "http"
	DefaultPort        = 80
	DefaultFlows       = 1
	DefaultInterval    = time.Second
	DefaultWaitTimeout = time.Minute
)

// ParseDuration parses a duration of a scenario file; "" gives def. A
// validated file's durations always parse.
func ParseDuration(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration: write a number with a unit, e.g. 500ms, 30s or 5m", s)
	}
	return d, nil
}
