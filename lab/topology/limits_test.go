package topology_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// counts sizes a generated lab for TestCountLimits.
type counts struct {
	instances, hosts, subnets, tables, routes, rules, targets int
}

// countedLab writes a valid lab with the given numbers of things: one VPC
// whose subnets, route tables and instances are numbered, an appliance
// with rules, and a GWLB whose target group lists the instances (repeating
// them when asked for more targets than instances: the limit is checked
// before the duplicates are).
func countedLab(n counts) []byte {
	var b strings.Builder
	b.WriteString("vpcs:\n  v:\n    cidr: 10.0.0.0/16\n    subnets:\n")
	b.WriteString("      gw: {az: az1, cidr: 10.0.100.0/24, route_table: main}\n")
	b.WriteString("      hosts: {az: az1, cidr: 10.0.128.0/17, route_table: main}\n")
	for i := range n.subnets - 2 {
		fmt.Fprintf(&b, "      s%d: {az: az1, cidr: 10.0.%d.%d/28, route_table: main}\n", i, i/16, i%16*16)
	}
	b.WriteString("    route_tables:\n      main:\n        routes:\n")
	for i := range n.routes {
		fmt.Fprintf(&b, "          - {destination: 192.0.%d.%d/32, target: blackhole}\n", i/256, i%256)
	}
	for i := range n.tables - 1 {
		fmt.Fprintf(&b, "      t%d: {}\n", i)
	}
	b.WriteString("    instances:\n      fw:\n        subnet: gw\n        run:\n          appliance:\n            mode: firewall\n            rules:\n")
	for i := range n.rules {
		fmt.Fprintf(&b, "              - {action: allow, protocol: tcp, port: %d}\n", i%65535+1)
	}
	for i := range n.instances - 1 {
		fmt.Fprintf(&b, "      i%d: {subnet: hosts}\n", i)
	}
	b.WriteString("gwlbs:\n  g:\n    vpc: v\n    subnets: {gw: }\n    target_group:\n      targets: [")
	for i := range n.targets {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("fw")
	}
	b.WriteString("]\n")
	if n.hosts > 0 {
		b.WriteString("internet:\n  hosts:\n")
		for i := range n.hosts {
			fmt.Fprintf(&b, "    h%d: {ip: 198.51.%d.%d}\n", i, 100+i/200, 10+i%200)
		}
	}
	return []byte(b.String())
}

// TestCountLimits: above each soft limit a warning, above each hard limit
// an error (and no other finding), each naming the count, the limit and
// why.
func TestCountLimits(t *testing.T) {
	base := counts{instances: 10, subnets: 10, tables: 1, routes: 1, rules: 1, targets: 1}
	with := func(f func(*counts)) counts { n := base; f(&n); return n }
	tests := []struct {
		name  string
		n     counts
		warns []string
		errs  []string
	}{
		{"within", base, nil, nil},
		{"nodes-soft", with(func(n *counts) { n.instances, n.hosts = 200, 50 }), // 200 + 50 + the GWLB node
			[]string{"251 nodes are more than 250: up then takes over 5 s on 2 cores, and every node costs about 2 MB of memory with its program"}, nil},
		{"nodes-hard", with(func(n *counts) { n.instances, n.hosts = 900, 100 }),
			nil, []string{"1001 nodes exceed the limit of 1000: one machine carries no more: at 1000, up already takes about 30 s and 2 GB of memory on 2 cores (a namespace, a TAP device and usually a process each)"}},
		{"subnets-soft", with(func(n *counts) { n.subnets = 201 }),
			[]string{"vpcs.v: 201 subnets are more than 200 per vpc: AWS's default quota (adjustable)"}, nil},
		{"subnets-hard", with(func(n *counts) { n.subnets = 1001 }),
			nil, []string{"vpcs.v: 1001 subnets exceed the limit of 1000 per vpc: beyond what any lab needs; each subnet is a router of the emulator"}},
		{"route-tables-soft", with(func(n *counts) { n.tables = 201 }),
			[]string{"vpcs.v: 201 route tables are more than 200 per vpc: AWS's default quota (adjustable)"}, nil},
		{"route-tables-hard", with(func(n *counts) { n.tables = 1001 }),
			nil, []string{"vpcs.v: 1001 route tables exceed the limit of 1000 per vpc: beyond what any lab needs"}},
		{"routes-soft", with(func(n *counts) { n.routes = 51 }),
			[]string{"vpcs.v.route_tables.main: 51 routes are more than 50 per route table: AWS's default quota (adjustable up to 1000)"}, nil},
		{"routes-hard", with(func(n *counts) { n.routes = 1001 }),
			nil, []string{"vpcs.v.route_tables.main: 1001 routes exceed the limit of 1000 per route table: AWS's maximum, even with a quota increase"}},
		{"rules-soft", with(func(n *counts) { n.rules = 1001 }),
			[]string{"vpcs.v.instances.fw.run.appliance: 1001 firewall rules are more than 1000 per appliance: the appliance checks every new flow against its rules in order, so each new flow then costs microseconds"}, nil},
		{"rules-hard", with(func(n *counts) { n.rules = 10001 }),
			nil, []string{"vpcs.v.instances.fw.run.appliance: 10001 firewall rules exceed the limit of 10000 per appliance: a linear scan of more would slow every new flow by tens of microseconds"}},
		{"targets-hard", with(func(n *counts) { n.targets = 1001 }),
			nil, []string{"gwlbs.g.target_group: 1001 targets exceed the limit of 1000 per target group: AWS's quota of targets per target group (spec §8)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := topology.Parse(countedLab(tt.n), tt.name+".yaml")
			if err != nil {
				t.Fatal(err)
			}
			ds := topology.Validate(f)
			if diff := cmp.Diff(tt.errs, nilIfEmpty(strs(ds.Errors()))); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.warns, nilIfEmpty(strs(ds.Warnings()))); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			for _, d := range ds {
				if d.Line == 0 {
					t.Errorf("no line: %v", d)
				}
			}
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// TestLimitsDocumented: docs/topology.md lists every limit as the code
// has it.
func TestLimitsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/topology.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range topology.CountLimits() {
		if !strings.Contains(string(doc), l) {
			t.Errorf("docs/topology.md does not list %q", l)
		}
	}
}
