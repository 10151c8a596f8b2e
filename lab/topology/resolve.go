package topology

import (
	"cmp"
	"maps"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// Resolve validates a parsed file and builds the resolved lab named
// labName: defaults applied, addresses allocated, names, ids and MACs
// derived. It returns ErrLabName (wrapped) for a bad lab name, and the
// file's errors as Diagnostics when it does not validate; warnings do not
// stop it.
func Resolve(f *File, labName string) (*Lab, error) {
	if err := ValidateLabName(labName); err != nil {
		return nil, err
	}
	c := newChecker(f)
	c.run()
	if errs := c.diags.Errors(); len(errs) > 0 {
		return nil, errs
	}
	r := &resolver{c: c, lab: labName, macs: map[MAC]string{}}
	return r.resolve(), nil
}

type resolver struct {
	c    *checker
	lab  string
	macs map[MAC]string // MAC -> owner key, to keep MACs unique
}

// mac returns the MAC of an object, unique within the lab: on a (very
// unlikely) hash collision the later object, in resolve order, is rehashed.
func (r *resolver) mac(kind, name string) MAC {
	key := kind + "/" + name
	for i := 0; ; i++ {
		n := name
		if i > 0 {
			n = name + "#" + strconv.Itoa(i)
		}
		m := macFor(r.lab, kind, n)
		if owner, taken := r.macs[m]; !taken || owner == key {
			r.macs[m] = key
			return m
		}
	}
}

func sorted[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func (r *resolver) resolve() *Lab {
	c := r.c
	lab := &Lab{
		Name:             r.lab,
		Prefix:           ResourcePrefix(r.lab),
		TimeScale:        DefaultTimeScale,
		LabTimings:       c.t.Lab.LabTimings,
		VPCs:             []VPC{},
		GWLBs:            []GWLB{},
		EndpointServices: []EndpointService{},
		Internet:         Internet{Segments: []Segment{}},
		Nodes:            []Node{},
	}
	if ts := c.t.Lab.TimeScale; ts != nil {
		lab.TimeScale = *ts
	}
	for _, vn := range sorted(c.vpcs) {
		lab.VPCs = append(lab.VPCs, r.vpc(c.vpcs[vn]))
	}
	for _, gn := range sorted(c.gwlbs) {
		lab.GWLBs = append(lab.GWLBs, r.gwlb(c.gwlbs[gn]))
	}
	for _, sn := range sorted(c.services) {
		s := c.services[sn]
		id, _ := awsID("vpce-svc", r.lab, "service", sn)
		lab.EndpointServices = append(lab.EndpointServices, EndpointService{
			Name:               sn,
			ID:                 id,
			ServiceName:        "com.amazonaws.vpce.lab." + id,
			GWLBs:              slices.Clone(s.gwlbs),
			AcceptanceRequired: c.t.EndpointServices[sn].AcceptanceRequired,
			Endpoints:          slices.Sorted(slices.Values(s.endpoints)),
		})
	}
	segs := slices.Clone(c.segments)
	slices.SortFunc(segs, func(a, b *segmentInfo) int { return a.prefix.Addr().Compare(b.prefix.Addr()) })
	for _, s := range segs {
		seg := Segment{
			Prefix:     s.prefix,
			Gateway:    s.gateway,
			GatewayMAC: r.mac("segment-router", s.prefix.String()),
			Hosts:      slices.Sorted(slices.Values(s.hosts)),
		}
		for _, p6 := range s.v6 {
			seg.IPv6 = append(seg.IPv6, SegmentIPv6{Prefix: p6.prefix, Gateway: p6.gateway})
		}
		slices.SortFunc(seg.IPv6, func(a, b SegmentIPv6) int { return a.Prefix.Addr().Compare(b.Prefix.Addr()) })
		lab.Internet.Segments = append(lab.Internet.Segments, seg)
	}
	if len(c.t.TransitGateways) > 0 {
		lab.TransitGateways = r.transitGateways()
	}
	if len(c.t.AutoScalingGroups) > 0 {
		lab.AutoScalingGroups = r.autoScalingGroups()
	}
	lab.Nodes = r.nodes(lab)
	return lab
}

func (r *resolver) vpc(v *vpcInfo) VPC {
	c := r.c
	spec := c.t.VPCs[v.name]
	id, _ := awsID("vpc", r.lab, "vpc", v.name)
	out := VPC{
		Name: v.name, ID: id, CIDR: v.cidr, IPv6CIDR: v.v6,
		Subnets: []Subnet{}, RouteTables: []RouteTable{}, NATGateways: []NATGateway{},
		Endpoints: []Endpoint{}, Instances: sorted(spec.Instances),
	}
	scoped := func(name string) string { return v.name + "/" + name }
	for _, sn := range sorted(v.subnets) {
		s := v.subnets[sn]
		sid, _ := awsID("subnet", r.lab, "subnet", scoped(sn))
		sub := Subnet{
			Name: sn, ID: sid, VPC: v.name, AZ: s.az, CIDR: s.cidr, IPv6CIDR: s.v6,
			Router: s.cidr.Addr().Next(), RouterMAC: r.mac("router", scoped(sn)), RouteTable: s.table,
		}
		if s.v6.IsValid() {
			sub.RouterV6 = router6(s.v6)
		}
		out.Subnets = append(out.Subnets, sub)
	}
	for _, tn := range sorted(v.tables) {
		t := v.tables[tn]
		tid, _ := awsID("rtb", r.lab, "route-table", scoped(tn))
		rt := RouteTable{
			Name: tn, ID: tid, VPC: v.name, Main: tn == "main", EdgeAssociation: t.edge,
			Subnets: slices.Sorted(slices.Values(t.subnets)), Routes: []Route{},
		}
		for _, block := range []netip.Prefix{v.cidr, v.v6} {
			if block.IsValid() && !slices.ContainsFunc(t.routes, func(ri routeInfo) bool { return ri.dst == block }) {
				rt.Routes = append(rt.Routes, Route{Destination: block, Target: RouteTarget{Kind: TargetLocal}})
			}
		}
		for _, ri := range t.routes {
			target := RouteTarget{Kind: ri.kind}
			if ri.kind != TargetLocal && ri.kind != TargetBlackhole {
				target.Name = ri.target
			}
			rt.Routes = append(rt.Routes, Route{Destination: ri.dst, Target: target})
		}
		if rt.Subnets == nil {
			rt.Subnets = []string{}
		}
		out.RouteTables = append(out.RouteTables, rt)
	}
	var publics []PublicIP
	for _, n := range sorted(spec.NATGateways) {
		e := c.enis[n]
		nid, _ := awsID("nat", r.lab, "nat-gateway", n)
		out.NATGateways = append(out.NATGateways, NATGateway{
			Name: n, ID: nid, VPC: v.name, Subnet: e.subnet, AZ: v.subnets[e.subnet].az,
			PrivateIP: e.addr, PublicIP: e.public, MAC: r.mac("eni", n),
		})
		publics = append(publics, PublicIP{Public: e.public, Private: e.addr, Owner: n, OwnerKind: OwnerNATGateway})
	}
	for _, n := range sorted(spec.Instances) {
		if e := c.enis[n]; e.public.IsValid() {
			publics = append(publics, PublicIP{Public: e.public, Private: e.addr, Owner: n, OwnerKind: OwnerInstance})
		}
	}
	for _, n := range sorted(spec.GWLBEndpoints) {
		e := c.enis[n]
		eid, num := awsID("vpce", r.lab, "endpoint", n)
		az := v.subnets[e.subnet].az
		out.Endpoints = append(out.Endpoints, Endpoint{
			Name: n, ID: eid, Number: num, VPC: v.name, Subnet: e.subnet, AZ: az,
			Addr: e.addr, Addr6: e.addr6, MAC: r.mac("eni", n), Service: e.service, GWLB: e.gwlb, GWLBNode: e.gwlb + "-" + az,
		})
	}
	if v.igw != "" {
		gid, _ := awsID("igw", r.lab, "internet-gateway", v.igw)
		slices.SortFunc(publics, func(a, b PublicIP) int { return a.Public.Compare(b.Public) })
		if publics == nil {
			publics = []PublicIP{}
		}
		out.InternetGateway = &InternetGateway{Name: v.igw, ID: gid, EdgeRouteTable: v.edgeTable, PublicIPs: publics}
	}
	return out
}

func (r *resolver) gwlb(g *gwlbInfo) GWLB {
	spec := r.c.t.GWLBs[g.name]
	tg := &spec.TargetGroup
	hc := &tg.HealthCheck
	out := GWLB{
		Name: g.name, ID: hexID(r.lab, "gwlb", g.name), VPC: g.vpc, CrossZone: spec.CrossZone, Service: g.service,
		Nodes:           []GWLBNode{},
		MaxFlowsPerNode: intOr(spec.MaxFlowsPerNode, DefaultMaxFlowsPerNode),
		Listener: Listener{
			TCPIdleTimeout:            seconds(spec.Listener.TCPIdleTimeout, DefaultTCPIdleTimeout),
			SendTCPResetOnIdleTimeout: spec.Listener.SendTCPResetOnIdleTimeout,
		},
		TargetGroup: TargetGroup{
			Name:       g.tgName,
			ID:         hexID(r.lab, "target-group", g.name),
			Protocol:   TargetGroupProtocol,
			Port:       TargetGroupPort,
			TargetType: TargetType(cmp.Or(tg.TargetType, string(DefaultTargetType))),
			HealthCheck: HealthCheck{
				Protocol:           cmp.Or(hc.Protocol, DefaultHealthCheckProtocol),
				Port:               intOr(hc.Port, DefaultHealthCheckPort),
				Path:               cmp.Or(hc.Path, DefaultHealthCheckPath),
				Interval:           seconds(hc.Interval, DefaultHealthCheckInterval),
				Timeout:            seconds(hc.Timeout, DefaultHealthCheckTimeout),
				HealthyThreshold:   intOr(hc.HealthyThreshold, DefaultHealthyThreshold),
				UnhealthyThreshold: intOr(hc.UnhealthyThreshold, DefaultUnhealthyThreshold),
				Matcher:            cmp.Or(hc.Matcher, DefaultMatcher),
			},
			Stickiness: g.stickiness,
			TargetFailover: TargetFailover{
				OnDeregistration: failover(tg.TargetFailover.OnDeregistration),
				OnUnhealthy:      failover(tg.TargetFailover.OnUnhealthy),
			},
			DeregistrationDelay: seconds(tg.DeregistrationDelay, DefaultDeregistrationDelay),
			Targets:             []Target{},
		},
	}
	for _, n := range g.nodes {
		out.Nodes = append(out.Nodes, GWLBNode{Name: n.name, AZ: r.c.vpcs[g.vpc].subnets[n.subnet].az, Subnet: n.subnet, Addr: n.addr})
	}
	slices.SortFunc(out.Nodes, func(a, b GWLBNode) int { return cmp.Compare(a.AZ, b.AZ) })
	for _, t := range g.targets {
		out.TargetGroup.Targets = append(out.TargetGroup.Targets, Target{ID: t.id, Node: t.node, Addr: t.addr, AZ: t.az, Subnet: t.subnet})
	}
	return out
}

func seconds(p *int, d time.Duration) time.Duration {
	if p == nil {
		return d
	}
	return time.Duration(*p) * time.Second
}

// nodes builds every node of the lab, sorted by name.
func (r *resolver) nodes(lab *Lab) []Node {
	c := r.c
	var out []Node
	for _, v := range lab.VPCs {
		for _, n := range v.Instances {
			e := c.enis[n]
			spec := c.t.VPCs[v.Name].Instances[n]
			s, _ := v.Subnet(e.subnet)
			id, _ := awsID("i", r.lab, "instance", n)
			node := Node{
				Name: n, Kind: NodeInstance, ID: id, Netns: NetnsName(r.lab, n),
				VPC: v.Name, Subnet: s.Name, AZ: s.AZ,
				Interface: Interface{
					Name: InterfaceName, MAC: r.mac("eni", n), Addr: netip.PrefixFrom(e.addr, s.CIDR.Bits()),
					Gateway: s.Router, GatewayMAC: s.RouterMAC, MTU: VPCMTU, PublicIP: e.public, SourceDestCheck: e.sdc,
				},
				Run: resolveRun(spec.Run, r.c.f.Name), Container: resolveContainer(spec.Container),
			}
			setAddr6(&node.Interface, s, e.addr6)
			out = append(out, node)
		}
	}
	for _, g := range lab.GWLBs {
		v, _ := lab.VPC(g.VPC)
		for _, gn := range g.Nodes {
			s, _ := v.Subnet(gn.Subnet)
			node := Node{
				Name: gn.Name, Kind: NodeGWLB, Netns: NetnsName(r.lab, gn.Name),
				VPC: v.Name, Subnet: s.Name, AZ: s.AZ,
				Interface: Interface{
					Name: InterfaceName, MAC: r.mac("eni", gn.Name), Addr: netip.PrefixFrom(gn.Addr, s.CIDR.Bits()),
					Gateway: s.Router, GatewayMAC: s.RouterMAC, MTU: VPCMTU, SourceDestCheck: DefaultSourceDestCheck,
				},
			}
			for _, ni := range c.gwlbs[g.Name].nodes {
				if ni.name == gn.Name {
					setAddr6(&node.Interface, s, ni.addr6)
				}
			}
			out = append(out, node)
		}
	}
	for _, seg := range lab.Internet.Segments {
		for _, n := range seg.Hosts {
			h := c.hosts[n]
			node := Node{
				Name: n, Kind: NodeInternetHost, Netns: NetnsName(r.lab, n),
				Interface: Interface{
					Name: InterfaceName, MAC: r.mac("eni", n), Addr: netip.PrefixFrom(h.ip, seg.Prefix.Bits()),
					Gateway: seg.Gateway, GatewayMAC: seg.GatewayMAC, MTU: InternetMTU, PublicIP: h.ip, SourceDestCheck: DefaultSourceDestCheck,
				},
				Run:       resolveRun(c.t.Internet.Hosts[n].Run, r.c.f.Name),
				Container: resolveContainer(c.t.Internet.Hosts[n].Container),
			}
			if h.ip6.IsValid() {
				node.Interface.Addr6, node.Interface.Gateway6 = netip.PrefixFrom(h.ip6, 64), h.gw6
			}
			out = append(out, node)
		}
	}
	slices.SortFunc(out, func(a, b Node) int { return cmp.Compare(a.Name, b.Name) })
	if out == nil {
		out = []Node{}
	}
	return out
}

// setAddr6 gives an interface in subnet s its IPv6 address, if it has one.
func setAddr6(i *Interface, s *Subnet, a netip.Addr) {
	if a.IsValid() && s.IPv6CIDR.IsValid() {
		i.Addr6, i.Gateway6 = netip.PrefixFrom(a, s.IPv6CIDR.Bits()), s.RouterV6
	}
}

// resolveContainer copies a container section; it has no defaults.
func resolveContainer(spec *ContainerSpec) *Container {
	if spec == nil {
		return nil
	}
	return &Container{
		Image: spec.Image, Entrypoint: slices.Clone(spec.Entrypoint), Command: slices.Clone(spec.Command),
		Env: maps.Clone(spec.Env), CapAdd: slices.Clone(spec.CapAdd), Devices: slices.Clone(spec.Devices),
		Volumes: slices.Clone(spec.Volumes), WorkingDir: spec.WorkingDir, User: spec.User,
		Sysctls: maps.Clone(spec.Sysctls),
	}
}

// resolveRun applies the defaults of a run section of the topology file
// named file.
func resolveRun(spec *RunSpec, file string) *Run {
	r := resolveProgram(spec)
	if r != nil {
		dir := filepath.Dir(file)
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		for _, dest := range slices.Sorted(maps.Keys(spec.Files)) {
			src := spec.Files[dest]
			if !filepath.IsAbs(src) {
				src = filepath.Join(dir, src)
			}
			r.Files = append(r.Files, PlacedFile{Dest: dest, Source: src})
		}
		r.Restart = spec.Restart
		if r.Restart == "" {
			r.Restart = DefaultRestart
		}
		if rs := spec.Ready; rs != nil {
			r.Ready = &Ready{TCP: intOr(rs.TCP, 0), Command: slices.Clone(rs.Command),
				Timeout: time.Duration(intOr(rs.Timeout, DefaultReadyTimeout)) * time.Second}
		}
	}
	return r
}

// resolveProgram resolves the program of a run section.
func resolveProgram(spec *RunSpec) *Run {
	switch {
	case spec == nil:
		return nil
	case spec.HTTPEcho != nil:
		return &Run{Kind: RunHTTPEcho, HTTPEcho: &HTTPEcho{Port: intOr(spec.HTTPEcho.Port, DefaultHTTPEchoPort)}}
	case spec.Command != nil:
		return &Run{Kind: RunCommand, Command: slices.Clone(spec.Command)}
	case spec.Reflector != nil:
		return &Run{Kind: RunReflector, Reflector: &Reflector{HealthPort: intOr(spec.Reflector.HealthPort, DefaultHealthPort), SameAZOnly: spec.Reflector.SameAZOnly}}
	}
	a := spec.Appliance
	out := &Appliance{
		Mode:          ApplianceMode(cmp.Or(a.Mode, string(DefaultApplianceMode))),
		HealthPort:    intOr(a.HealthPort, DefaultHealthPort),
		DefaultAction: cmp.Or(a.DefaultAction, DefaultFirewallAction),
		FlowLog:       a.FlowLog,
		Hook:          a.Hook,
	}
	if a.FlowLog {
		out.FlowLogMaxBytes = intOr(a.FlowLogMaxBytes, DefaultFlowLogMaxBytes)
	}
	for _, fr := range a.Rules {
		rule := FirewallRule{Action: fr.Action, Protocol: cmp.Or(fr.Protocol, "any"), Port: fr.Port}
		if fr.CIDR != "" {
			rule.CIDR = netip.MustParsePrefix(fr.CIDR) // validated
		}
		out.Rules = append(out.Rules, rule)
	}
	if m := a.Misbehave; m != nil {
		out.Misbehave = &Misbehave{AlterCookie: m.AlterCookie, StripOption: m.StripOption, VNI: uint32(m.VNI), ReplyFromPort: m.ReplyFromPort,
			ReflectTCP: m.ReflectTCP, HealthDelayMS: m.HealthDelayMS, Control: m.Control}
	}
	return &Run{Kind: RunAppliance, Appliance: out}
}
