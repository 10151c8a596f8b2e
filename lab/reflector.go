package lab

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// reflectorArgv is what a reflector node runs: no appliance program at all,
// only the iptables rules of AWS's own sample appliance — DNAT what a GWLB
// node sends to UDP 6081 back to that node, MASQUERADE it on the way out,
// so the kernel returns it with the GWLB's source port kept — and a small
// HTTP listener on the health port.
func reflectorArgv(binary string, l *topology.Lab, n *topology.Node) []string {
	self := n.Interface.Addr.Addr()
	var rules []string
	for _, g := range l.GWLBs {
		target := false
		for _, t := range g.TargetGroup.Targets {
			if t.Node == n.Name {
				target = true
			}
		}
		if !target {
			continue
		}
		// Every node of the GWLB may send here once cross-zone load
		// balancing is on; a rule per node covers it, unless the file asks
		// for AWS's sample's same-AZ rules (spec §6.6 #12).
		for _, gn := range g.Nodes {
			if n.Run.Reflector.SameAZOnly && gn.AZ != n.AZ {
				continue
			}
			rules = append(rules,
				fmt.Sprintf("iptables -t nat -A PREROUTING -i eth0 -p udp -s %s -d %s --dport 6081 -j DNAT --to-destination %s:6081", gn.Addr, self, gn.Addr),
				fmt.Sprintf("iptables -t nat -A POSTROUTING -o eth0 -p udp -s %s -d %s --dport 6081 -j MASQUERADE", gn.Addr, gn.Addr))
		}
	}
	script := []string{
		"set -e",
		// The packet leaves by the interface it came in on; no redirects.
		"echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects",
		"echo 0 > /proc/sys/net/ipv4/conf/eth0/send_redirects",
	}
	script = append(script, rules...)
	script = append(script, fmt.Sprintf("exec %s echo --node %s --http :%d --udp ''", binary, n.Name, n.Run.Reflector.HealthPort))
	return []string{"sh", "-c", strings.Join(script, "\n")}
}

// gwlbNodesFor lists the addresses of the GWLB nodes that may send GENEVE
// to node n: every node of every GWLB whose target group has n (with
// cross-zone load balancing on, or a zone without a healthy target, any of
// them may). An instance that no target group lists may still be registered
// at run time (targets register) in a GWLB of its VPC: it gets the nodes of
// those.
func gwlbNodesFor(l *topology.Lab, n *topology.Node) []netip.Addr {
	var out []netip.Addr
	listed := false
	for _, g := range l.GWLBs {
		if !slices.ContainsFunc(g.TargetGroup.Targets, func(t topology.Target) bool { return t.Node == n.Name }) {
			continue
		}
		listed = true
		for _, gn := range g.Nodes {
			out = append(out, gn.Addr)
		}
	}
	if listed || n.Kind != topology.NodeInstance {
		return out
	}
	for _, g := range l.GWLBs {
		if g.VPC != n.VPC {
			continue
		}
		for _, gn := range g.Nodes {
			out = append(out, gn.Addr)
		}
	}
	return out
}
