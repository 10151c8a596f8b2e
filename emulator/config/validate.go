package config

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/emulator/clock"
)

// MaxTiming is the longest timing value, in seconds, the emulator accepts:
// a day, which at clock.MinScale lasts 100 days of wall time, far inside a
// time.Duration.
const MaxTiming = 86400

// Validate checks the snapshot's internal consistency: every name a route,
// endpoint, service or GWLB refers to exists, names are unique, addresses are
// set and inside their subnets. The topology file's own validation is far
// richer; this guards the emulator against a hand-edited or stale snapshot.
func (s *Snapshot) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if s.Version != Version {
		return fmt.Errorf("%w: %d (this emulator reads %d)", ErrVersion, s.Version, Version)
	}
	if s.Lab == "" {
		bad("lab name is empty")
	}
	if !(s.TimeScale >= clock.MinScale && s.TimeScale <= clock.MaxScale) {
		bad("time_scale must be between %v and %v, got %v", clock.MinScale, clock.MaxScale, s.TimeScale)
	}
	nodes := map[string]bool{}
	eni := func(where string, e ENI) {
		if e.Node == "" || e.NetNS == "" || e.Interface == "" {
			bad("%s: node, netns and interface must be set", where)
		}
		if nodes[e.Node] {
			bad("%s: node %q appears twice", where, e.Node)
		}
		nodes[e.Node] = true
		if !e.IP.Is4() {
			bad("%s: node %q has no IPv4 address", where, e.Node)
		}
		if e.IPv6.IsValid() && (!e.IPv6.Is6() || e.IPv6.Is4In6()) {
			bad("%s: node %q IPv6 address %s is not IPv6", where, e.Node, e.IPv6)
		}
		if e.MTU < 68 {
			bad("%s: node %q has MTU %d", where, e.Node, e.MTU)
		}
	}
	services := map[string]Service{}
	for _, sv := range s.Services {
		services[sv.Name] = sv
	}
	gwlbs := map[string]bool{}
	for _, g := range s.GWLBs {
		gwlbs[g.Name] = true
	}
	for _, sv := range s.Services {
		for _, g := range sv.GWLBs {
			if !gwlbs[g] {
				bad("endpoint service %q: gwlb %q is not defined", sv.Name, g)
			}
		}
	}
	vpcNames := map[string]bool{}
	for _, v := range s.VPCs {
		if vpcNames[v.Name] {
			bad("vpc %q appears twice", v.Name)
		}
		vpcNames[v.Name] = true
		tables := map[string]bool{}
		for _, rt := range v.RouteTables {
			tables[rt.Name] = true
		}
		if v.EdgeRouteTable != "" && !tables[v.EdgeRouteTable] {
			bad("vpc %q: edge route table %q is not defined", v.Name, v.EdgeRouteTable)
		}
		if v.EdgeRouteTable != "" && v.InternetGateway == "" {
			bad("vpc %q: edge route table without an internet gateway", v.Name)
		}
		subnets := map[string]bool{}
		instances := map[string]bool{}
		for _, sn := range v.Subnets {
			subnets[sn.Name] = true
			where := fmt.Sprintf("vpc %q subnet %q", v.Name, sn.Name)
			if !sn.CIDR.IsValid() || !sn.CIDR.Addr().Is4() {
				bad("%s: invalid IPv4 CIDR", where)
			}
			if !tables[sn.RouteTable] {
				bad("%s: route table %q is not defined", where, sn.RouteTable)
			}
			if !sn.CIDR.Contains(sn.Router) {
				bad("%s: router %s is outside %s", where, sn.Router, sn.CIDR)
			}
			if sn.IPv6CIDR.IsValid() && (!sn.IPv6CIDR.Addr().Is6() || !sn.IPv6CIDR.Contains(sn.RouterV6)) {
				bad("%s: IPv6 CIDR %s needs an IPv6 router address inside it, got %s", where, sn.IPv6CIDR, sn.RouterV6)
			}
			if !sn.IPv6CIDR.IsValid() && sn.RouterV6.IsValid() {
				bad("%s: IPv6 router %s without an IPv6 CIDR", where, sn.RouterV6)
			}
			for _, e := range sn.ENIs {
				eni(where, e)
				instances[e.Node] = true
				if !sn.CIDR.Contains(e.IP) {
					bad("%s: node %q address %s is outside %s", where, e.Node, e.IP, sn.CIDR)
				}
				if e.IPv6.IsValid() && !sn.IPv6CIDR.Contains(e.IPv6) {
					bad("%s: node %q IPv6 address %s is outside the subnet's IPv6 CIDR %s", where, e.Node, e.IPv6, sn.IPv6CIDR)
				}
			}
		}
		nats := map[string]bool{}
		for _, n := range v.NATGateways {
			nats[n.Name] = true
			if !subnets[n.Subnet] {
				bad("vpc %q nat gateway %q: subnet %q is not defined", v.Name, n.Name, n.Subnet)
			}
			if !n.IP.Is4() || !n.PublicIP.Is4() {
				bad("vpc %q nat gateway %q: needs a private and a public IPv4 address", v.Name, n.Name)
			}
		}
		endpoints := map[string]bool{}
		for _, ep := range v.Endpoints {
			endpoints[ep.Name] = true
			if !subnets[ep.Subnet] {
				bad("vpc %q endpoint %q: subnet %q is not defined", v.Name, ep.Name, ep.Subnet)
			}
			if _, ok := services[ep.Service]; !ok {
				bad("vpc %q endpoint %q: service %q is not defined", v.Name, ep.Name, ep.Service)
			}
			if _, err := EndpointNumber(ep.ID); err != nil {
				bad("vpc %q endpoint %q: %v", v.Name, ep.Name, err)
			}
			if ep.GWLB != "" && !gwlbs[ep.GWLB] {
				bad("vpc %q endpoint %q: gwlb %q is not defined", v.Name, ep.Name, ep.GWLB)
			}
		}
		for _, rt := range v.RouteTables {
			for i, r := range rt.Routes {
				where := fmt.Sprintf("vpc %q route table %q route %d", v.Name, rt.Name, i)
				if !r.Destination.IsValid() {
					bad("%s: invalid destination", where)
				}
				var ok bool
				switch r.Kind {
				case TargetLocal, TargetBlackhole:
					ok = true
				case TargetIGW:
					ok = v.InternetGateway != "" && r.Target == v.InternetGateway
				case TargetNAT:
					ok = nats[r.Target]
				case TargetEndpoint:
					ok = endpoints[r.Target]
				case TargetInstance:
					ok = instances[r.Target]
				case TargetTGW:
					ok = true // validateTGWs
				default:
					bad("%s: unknown target kind %q", where, r.Kind)
					continue
				}
				if !ok {
					bad("%s: %s target %q is not defined", where, r.Kind, r.Target)
				}
			}
		}
	}
	for _, g := range s.GWLBs {
		if !vpcNames[g.VPC] {
			bad("gwlb %q: vpc %q is not defined", g.Name, g.VPC)
		}
		if len(g.Nodes) == 0 {
			bad("gwlb %q has no nodes", g.Name)
		}
		if g.MaxFlowsPerNode < 0 {
			bad("gwlb %q: max_flows_per_node %d is negative", g.Name, g.MaxFlowsPerNode)
		}
		for _, n := range g.Nodes {
			if !n.IP.Is4() {
				bad("gwlb %q node %q: needs an IPv4 address", g.Name, n.Name)
			}
		}
		for _, t := range g.TargetGroup.Targets {
			if !t.IP.Is4() {
				bad("gwlb %q target %q: needs an IPv4 address", g.Name, t.Name)
			}
		}
		// Timers built from these must fit a time.Duration at any
		// time_scale; a negative one would make time.NewTicker panic. The
		// topology allows 1 s (0 for the delay) to a day; zero stands for
		// "unset" in snapshots built by hand for tests.
		tg := g.TargetGroup
		for _, v := range []struct {
			name string
			val  int
		}{
			{"tcp_idle_timeout", g.TCPIdleTimeout},
			{"health_check.interval", tg.HealthCheck.Interval},
			{"health_check.timeout", tg.HealthCheck.Timeout},
			{"deregistration_delay", tg.DeregistrationDelay},
		} {
			if v.val < 0 || v.val > MaxTiming {
				bad("gwlb %q: %s must be between 0 and %d seconds, got %d", g.Name, v.name, MaxTiming, v.val)
			}
		}
	}
	s.validateTGWs(bad)
	s.validateASGs(bad)
	if s.Internet != nil {
		for _, seg := range s.Internet.Segments {
			where := fmt.Sprintf("internet segment %s", seg.CIDR)
			if !seg.CIDR.Contains(seg.Router) {
				bad("%s: router %s is outside it", where, seg.Router)
			}
			for _, p6 := range seg.IPv6 {
				if !p6.CIDR.IsValid() || !p6.CIDR.Addr().Is6() || !p6.CIDR.Contains(p6.Router) {
					bad("%s: IPv6 prefix %s needs an IPv6 router address inside it, got %s", where, p6.CIDR, p6.Router)
				}
			}
			for _, h := range seg.Hosts {
				eni(where, h)
				if !seg.CIDR.Contains(h.IP) {
					bad("%s: host %q address %s is outside it", where, h.Node, h.IP)
				}
				if h.IPv6.IsValid() && !slices.ContainsFunc(seg.IPv6, func(p6 SegmentIPv6) bool { return p6.CIDR.Contains(h.IPv6) }) {
					bad("%s: host %q IPv6 address %s is outside the segment's IPv6 prefixes", where, h.Node, h.IPv6)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// AllENIs returns every node interface of the lab, VPC instances first.
func (s *Snapshot) AllENIs() []ENI {
	var out []ENI
	for _, v := range s.VPCs {
		for _, sn := range v.Subnets {
			out = append(out, sn.ENIs...)
		}
	}
	if s.Internet != nil {
		for _, seg := range s.Internet.Segments {
			out = append(out, seg.Hosts...)
		}
	}
	return out
}

// EndpointNumber returns the 64-bit value of an endpoint id ("vpce-" and 17
// hex digits), the value GWLB carries in GENEVE option type 1 (spec §2.3).
func EndpointNumber(id string) (uint64, error) {
	hex, ok := strings.CutPrefix(id, "vpce-")
	if !ok || len(hex) != 17 {
		return 0, fmt.Errorf("endpoint id %q is not vpce- and 17 hex digits", id)
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("endpoint id %q is not vpce- and 17 hex digits", id)
	}
	return n, nil
}
