package lab

import (
	"fmt"
	"net/netip"
	"path/filepath"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// Compile turns a resolved lab into the emulator's configuration. nsPath
// gives the path of a node's network namespace, as its backend's node says
// (InDir: the mounts of one directory, /run/netns for both backends).
func Compile(l *topology.Lab, nsPath func(*topology.Node) string, controlSocket string) (*config.Snapshot, error) {
	s := &config.Snapshot{
		Version:       config.Version,
		Lab:           l.Name,
		TimeScale:     l.TimeScale,
		ControlSocket: controlSocket,
	}
	eni := func(n *topology.Node) config.ENI {
		e := config.ENI{
			Node:            n.Name,
			NetNS:           nsPath(n),
			Interface:       n.Interface.Name,
			MAC:             n.Interface.MAC,
			MTU:             n.Interface.MTU,
			IP:              n.Interface.Addr.Addr(),
			SourceDestCheck: n.Interface.SourceDestCheck,
		}
		if n.Interface.Addr6.IsValid() {
			e.IPv6 = n.Interface.Addr6.Addr()
		}
		if n.Kind == topology.NodeInstance {
			e.PublicIP = n.Interface.PublicIP
		}
		e.UDPCoalesce = udpCoalesce(n)
		return e
	}
	for i := range l.VPCs {
		v := &l.VPCs[i]
		cv := config.VPC{Name: v.Name, CIDRs: []netip.Prefix{v.CIDR}}
		if v.IPv6CIDR.IsValid() {
			cv.CIDRs = append(cv.CIDRs, v.IPv6CIDR)
		}
		if v.InternetGateway != nil {
			cv.InternetGateway = v.InternetGateway.Name
			cv.EdgeRouteTable = v.InternetGateway.EdgeRouteTable
		}
		for _, sn := range v.Subnets {
			cs := config.Subnet{
				Name: sn.Name, AZ: sn.AZ, CIDR: sn.CIDR, IPv6CIDR: sn.IPv6CIDR,
				RouteTable: sn.RouteTable, Router: sn.Router, RouterV6: sn.RouterV6, RouterMAC: sn.RouterMAC,
			}
			for j := range l.Nodes {
				n := &l.Nodes[j]
				if n.VPC == v.Name && n.Subnet == sn.Name {
					cs.ENIs = append(cs.ENIs, eni(n))
				}
			}
			cv.Subnets = append(cv.Subnets, cs)
		}
		for _, rt := range v.RouteTables {
			crt := config.RouteTable{Name: rt.Name}
			for _, r := range rt.Routes {
				kind, err := targetKind(r.Target.Kind)
				if err != nil {
					return nil, fmt.Errorf("vpc %q route table %q: %w", v.Name, rt.Name, err)
				}
				crt.Routes = append(crt.Routes, config.Route{Destination: r.Destination, Kind: kind, Target: r.Target.Name})
			}
			cv.RouteTables = append(cv.RouteTables, crt)
		}
		for _, n := range v.NATGateways {
			cv.NATGateways = append(cv.NATGateways, config.NATGateway{Name: n.Name, Subnet: n.Subnet, IP: n.PrivateIP, PublicIP: n.PublicIP})
		}
		for _, ep := range v.Endpoints {
			accepted := true
			if svc, ok := l.EndpointService(ep.Service); ok && svc.AcceptanceRequired {
				accepted = false
			}
			cv.Endpoints = append(cv.Endpoints, config.Endpoint{
				Name: ep.Name, ID: ep.ID, Subnet: ep.Subnet, AZ: ep.AZ, IP: ep.Addr, Service: ep.Service,
				GWLB: ep.GWLB, GWLBNode: ep.GWLBNode, Accepted: accepted,
			})
		}
		s.VPCs = append(s.VPCs, cv)
	}
	for _, svc := range l.EndpointServices {
		s.Services = append(s.Services, config.Service{Name: svc.Name, ID: svc.ID, GWLBs: svc.GWLBs, AcceptanceRequired: svc.AcceptanceRequired})
	}
	for _, g := range l.GWLBs {
		cg := config.GWLB{
			Name: g.Name, VPC: g.VPC, CrossZone: g.CrossZone,
			TCPIdleTimeout:  int(g.Listener.TCPIdleTimeout.Seconds()),
			SendTCPReset:    g.Listener.SendTCPResetOnIdleTimeout,
			MaxFlowsPerNode: g.MaxFlowsPerNode,
		}
		for _, gn := range g.Nodes {
			cn := config.GWLBNode{Name: gn.Name, AZ: gn.AZ, Subnet: gn.Subnet, IP: gn.Addr}
			if n, ok := l.Node(gn.Name); ok {
				cn.MAC = n.Interface.MAC
			}
			cg.Nodes = append(cg.Nodes, cn)
		}
		tg := g.TargetGroup
		hc := tg.HealthCheck
		cg.TargetGroup = config.TargetGroup{
			Name: tg.Name, TargetType: string(tg.TargetType), Stickiness: string(tg.Stickiness),
			HealthCheck: config.HealthCheck{
				Protocol: hc.Protocol, Port: hc.Port, Path: hc.Path,
				Interval: int(hc.Interval.Seconds()), Timeout: int(hc.Timeout.Seconds()),
				HealthyThreshold: hc.HealthyThreshold, UnhealthyThreshold: hc.UnhealthyThreshold, Matcher: hc.Matcher,
			},
			OnDeregistration:    string(tg.TargetFailover.OnDeregistration),
			OnUnhealthy:         string(tg.TargetFailover.OnUnhealthy),
			DeregistrationDelay: int(tg.DeregistrationDelay.Seconds()),
		}
		for _, t := range tg.Targets {
			cg.TargetGroup.Targets = append(cg.TargetGroup.Targets, config.Target{Name: t.Node, IP: t.Addr, AZ: t.AZ})
		}
		s.GWLBs = append(s.GWLBs, cg)
	}
	for _, t := range l.TransitGateways {
		ct := config.TransitGateway{Name: t.Name}
		for _, a := range t.Attachments {
			ca := config.TGWAttachment{Name: a.Name, VPC: a.VPC, RouteTable: a.RouteTable, ApplianceMode: a.ApplianceModeSupport}
			for _, e := range a.ENIs {
				ca.ENIs = append(ca.ENIs, config.TGWENI{Subnet: e.Subnet, AZ: e.AZ, IP: e.Addr, IP6: e.Addr6})
			}
			ct.Attachments = append(ct.Attachments, ca)
		}
		for _, rt := range t.RouteTables {
			crt := config.TGWRouteTable{Name: rt.Name}
			for _, r := range rt.Routes {
				crt.Routes = append(crt.Routes, config.TGWRoute{Destination: r.Destination, Attachment: r.Attachment, Blackhole: r.Blackhole, Propagated: r.Propagated})
			}
			ct.RouteTables = append(ct.RouteTables, crt)
		}
		s.TransitGateways = append(s.TransitGateways, ct)
	}
	for _, g := range l.AutoScalingGroups {
		s.AutoScalingGroups = append(s.AutoScalingGroups, compileASG(g))
	}
	if len(l.Internet.Segments) > 0 {
		s.Internet = &config.Internet{}
		for _, seg := range l.Internet.Segments {
			cs := config.Segment{CIDR: seg.Prefix, Router: seg.Gateway, RouterMAC: seg.GatewayMAC}
			for _, p6 := range seg.IPv6 {
				cs.IPv6 = append(cs.IPv6, config.SegmentIPv6{CIDR: p6.Prefix, Router: p6.Gateway})
			}
			for _, h := range seg.Hosts {
				n, ok := l.Node(h)
				if !ok {
					return nil, fmt.Errorf("internet host %q is not a node", h)
				}
				cs.Hosts = append(cs.Hosts, eni(n))
			}
			s.Internet.Segments = append(s.Internet.Segments, cs)
		}
	}
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("compiled emulator config is inconsistent: %w", err)
	}
	return s, nil
}

// InDir is the nsPath of nodes whose namespaces are mounted in dir under
// their names.
func InDir(dir string) func(*topology.Node) string {
	return func(n *topology.Node) string { return filepath.Join(dir, n.Netns) }
}

func targetKind(k topology.TargetKind) (string, error) {
	switch k {
	case topology.TargetLocal:
		return config.TargetLocal, nil
	case topology.TargetBlackhole:
		return config.TargetBlackhole, nil
	case topology.TargetInternetGateway:
		return config.TargetIGW, nil
	case topology.TargetNATGateway:
		return config.TargetNAT, nil
	case topology.TargetEndpoint:
		return config.TargetEndpoint, nil
	case topology.TargetInstance:
		return config.TargetInstance, nil
	case topology.TargetTransitGateway:
		return config.TargetTGW, nil
	}
	return "", fmt.Errorf("unknown route target kind %q", k)
}

// compileASG gives the emulator's controller an Auto Scaling group (spec
// §13); the launch template stays with the lab, which makes the nodes.
func compileASG(g topology.AutoScalingGroup) config.AutoScalingGroup {
	out := config.AutoScalingGroup{
		Name: g.Name, VPC: g.VPC, Min: g.Min, Max: g.Max, Desired: g.Desired,
		HealthCheckGracePeriod: int(g.HealthCheckGracePeriod.Seconds()), HealthCheckType: g.HealthCheckType,
	}
	for _, s := range g.Subnets {
		out.Subnets = append(out.Subnets, config.ASGSubnet{Name: s.Name, AZ: s.AZ})
	}
	for _, tg := range g.TargetGroups {
		out.TargetGroups = append(out.TargetGroups, config.ASGTargetGroup{Name: tg.Name, GWLB: tg.GWLB})
	}
	for _, h := range g.LifecycleHooks {
		out.LifecycleHooks = append(out.LifecycleHooks, config.LifecycleHook{
			Name: h.Name, Transition: h.Transition, HeartbeatTimeout: int(h.HeartbeatTimeout.Seconds()), DefaultResult: h.DefaultResult,
		})
	}
	if tt := g.TargetTracking; tt != nil {
		out.TargetTracking = &config.TargetTracking{
			Metric: tt.Metric, TargetValue: tt.TargetValue,
			ScaleOutCooldown: int(tt.ScaleOutCooldown.Seconds()), ScaleInCooldown: int(tt.ScaleInCooldown.Seconds()),
			DisableScaleIn: tt.DisableScaleIn,
		}
	}
	return out
}

// udpCoalesce reports whether n's port may write runs of UDP datagrams as
// one USO frame: the reference appliance reads GENEVE through a UDP socket
// in forward and firewall modes; tunnel mode hands it to kernel devices,
// and other programs may read the link itself (docs/architecture.md).
func udpCoalesce(n *topology.Node) bool {
	r := n.Run
	return r != nil && r.Appliance != nil &&
		(r.Appliance.Mode == topology.ApplianceForward || r.Appliance.Mode == topology.ApplianceFirewall)
}
