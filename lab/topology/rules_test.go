package topology_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// vpcLab is a small valid lab; %s is replaced by each case's extra YAML
// under the VPC (6 spaces of indentation for instance fields, see below).
const vpcLab = `
vpcs:
  v:
    cidr: 10.1.0.0/16
    ipv6_cidr: fd00:1::/56
    internet_gateway: igw
    subnets:
      s: {az: az1, cidr: 10.1.0.0/24, ipv6_cidr: "fd00:1::/64"}
      t: {az: az1, cidr: 10.1.1.0/24}
    route_tables:
      main:
        routes:
          - {destination: 0.0.0.0/0, target: igw}
          - {destination: "::/0", target: igw}
    instances:
      fw: {subnet: t, private_ip: 10.1.1.10, run: {appliance: {}}}
      i:
        subnet: s
        private_ip: 10.1.0.10
RUN
gwlbs:
  g:
    vpc: v
    subnets: {s: }
    target_group:
TG
endpoint_services:
  svc: {gwlbs: [g]}
internet:
  hosts:
HOSTS
`

type labParts struct{ run, tg, hosts string }

func (p labParts) yaml() string {
	tg := p.tg
	if tg == "" {
		tg = "      targets: [fw]"
	}
	hosts := p.hosts
	if hosts == "" {
		hosts = "    h: {ip: 198.51.100.10}"
	}
	return strings.NewReplacer("RUN", p.run, "TG", tg, "HOSTS", hosts).Replace(vpcLab)
}

func validateString(t *testing.T, src string) topology.Diagnostics {
	t.Helper()
	f, err := topology.Parse([]byte(src), "t.yaml")
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	return topology.Validate(f)
}

// TestRules covers rules that the files of testdata do not: each case gives
// exactly the listed findings (errors and warnings), none for a valid case.
func TestRules(t *testing.T) {
	tests := []struct {
		name string
		lab  labParts
		want []string
	}{
		{name: "valid base"},
		{name: "http health check", lab: labParts{tg: "      targets: [fw]\n      health_check: {protocol: HTTP, path: /health, matcher: \"200,302-304\"}"}},
		{name: "ip targets", lab: labParts{tg: "      target_type: ip\n      targets: [10.1.1.10]"}},
		{name: "aws stickiness names", lab: labParts{tg: "      targets: [fw]\n      stickiness: source_ip_dest_ip"}},
		{name: "runs", lab: labParts{run: "        run: {command: [sleep, infinity]}", hosts: "    h: {ip: 198.51.100.10, run: {reflector: {health_port: 8080}}}"}},
		{
			name: "firewall appliance",
			lab: labParts{run: `        run:
          appliance:
            mode: firewall
            default_action: deny
            flow_log: true
            rules:
              - {action: allow, cidr: 10.1.0.0/16, protocol: tcp, port: 80}
              - {action: allow, protocol: icmp}
            misbehave: {alter_cookie: true, strip_option: 3, vni: 7, reply_from_port: 40000, reflect_tcp: true, health_delay_ms: 200}`},
		},
		{name: "restart policies", lab: labParts{run: "        run: {command: [sleep, infinity], restart: on-failure}", hosts: "    h: {ip: 198.51.100.10, run: {http_echo: {}, restart: always}}"}},
		{name: "ready checks", lab: labParts{run: "        run: {command: [sleep, infinity], ready: {tcp: 8080, timeout: 5}}", hosts: "    h: {ip: 198.51.100.10, run: {http_echo: {}, ready: {command: [true]}}}"}},
		{
			name: "ready with both checks",
			lab:  labParts{run: "        run: {command: [sleep, infinity], ready: {tcp: 8080, command: [true]}}"},
			want: []string{"vpcs.v.instances.i.run.ready: ready must set exactly one of tcp and command"},
		},
		{
			name: "ready with neither check and a bad timeout",
			lab:  labParts{run: "        run: {command: [sleep, infinity], ready: {timeout: 0}}"},
			want: []string{"vpcs.v.instances.i.run.ready: ready must set exactly one of tcp and command", "vpcs.v.instances.i.run.ready: timeout 0 is outside 1-3600 seconds"},
		},
		{name: "files", lab: labParts{run: "        run: {command: [sleep, infinity], files: {/etc/app.conf: app.conf, conf/x: /abs/x}}"}},
		{
			name: "files escaping the node's view",
			lab:  labParts{run: "        run: {command: [sleep, infinity], files: {../x: app.conf, /run/a=b: app.conf}}"},
			want: []string{
				`vpcs.v.instances.i.run.files["../x"]: files: destination "../x" must name a file, without ".." or "="`,
				`vpcs.v.instances.i.run.files["/run/a=b"]: files: destination "/run/a=b" must name a file, without ".." or "="`,
			},
		},
		{
			name: "bad restart policy",
			lab:  labParts{run: "        run: {command: [sleep, infinity], restart: sometimes}"},
			want: []string{`vpcs.v.instances.i.run: restart "sometimes" is not one of never, on-failure, always`},
		},
		{
			name: "bad matcher",
			lab:  labParts{tg: "      targets: [fw]\n      health_check: {protocol: HTTP, matcher: \"100-299\"}"},
			want: []string{`gwlbs.g.target_group.health_check: matcher "100-299": GWLB health checks accept codes within 200-399 only (spec §4.1)`},
		},
		{
			name: "bad path",
			lab:  labParts{tg: "      targets: [fw]\n      health_check: {protocol: HTTPS, path: health}"},
			want: []string{`gwlbs.g.target_group.health_check: path "health" must start with /`},
		},
		{
			name: "bad firewall rules",
			lab: labParts{run: `        run:
          appliance:
            mode: firewall
            rules:
              - {cidr: 10.1.0.1/16, protocol: icmp, port: 7}
            misbehave: {strip_option: 4, health_delay_ms: 60001}`},
			want: []string{
				`vpcs.v.instances.i.run.appliance.rules[0]: action is required`,
				`vpcs.v.instances.i.run.appliance.rules[0]: cidr "10.1.0.1/16" is not a prefix: did you mean 10.1.0.0/16?`,
				`vpcs.v.instances.i.run.appliance.rules[0]: port needs protocol tcp or udp`,
				`vpcs.v.instances.i.run.appliance.misbehave: health_delay_ms 60001 is outside 0-60000`,
				`vpcs.v.instances.i.run.appliance.misbehave: strip_option 4 is not an AWS option type (1, 2 or 3)`,
			},
		},
		{
			name: "empty run and command",
			lab:  labParts{run: "        run: {}", hosts: "    h: {ip: 198.51.100.10, run: {command: []}}"},
			want: []string{
				`vpcs.v.instances.i.run: run must set exactly one of http_echo, command, appliance, reflector (it sets none)`,
				`internet.hosts.h.run: command needs at least the program to run`,
			},
		},
		{
			name: "bad ports",
			lab:  labParts{run: "        run: {http_echo: {port: 70000}}", hosts: "    h: {ip: 198.51.100.10, run: {reflector: {health_port: 0}}}"},
			want: []string{
				`vpcs.v.instances.i.run.http_echo: port 70000 is not a port number (1-65535)`,
				`internet.hosts.h.run.reflector: health_port 0 is not a port number (1-65535)`,
			},
		},
		{
			name: "internet segments",
			lab: labParts{hosts: `    h1: {ip: 198.51.100.10, gateway: 198.51.100.254}
    h2: {ip: 198.51.100.11}
    h3: {ip: 198.51.100.130, segment: 198.51.100.128/25}
    h4: {ip: 192.0.2.1}
    h5: {ip: 203.0.113.5, segment: 203.0.113.0/24, gateway: 203.0.113.9}`},
			want: []string{
				`internet.hosts.h2: gateway 198.51.100.1 differs from 198.51.100.254, the gateway host "h1" uses on segment 198.51.100.0/24`,
				`internet.hosts.h3: segment 198.51.100.128/25 overlaps segment 198.51.100.0/24 of host "h1"`,
				`internet.hosts.h4: ip 192.0.2.1 is the segment's gateway; set gateway to another address`,
			},
		},
		{
			name: "public ip in an internet segment",
			lab:  labParts{run: "        public_ip: 198.51.100.77"},
			want: []string{`vpcs.v.instances.i: public_ip 198.51.100.77 is inside internet segment 198.51.100.0/24 (of host "h"): hosts there would not route it through their gateway`},
		},
		{
			name: "ip target not an instance",
			lab:  labParts{tg: "      target_type: ip\n      targets: [10.1.1.99, fw]"},
			want: []string{
				`gwlbs.g.target_group.targets[0]: target 10.1.1.99 is not the address of an instance of vpc "v"`,
				`gwlbs.g.target_group.targets[1]: target "fw" is not an IP address (target_type is ip)`,
			},
		},
		{name: "lab limits", lab: labParts{tg: "      targets: [fw]\n    max_flows_per_node: 5", run: "        run: {appliance: {flow_log: true, flow_log_max_bytes: 65536}}"}},
		{
			name: "bad lab limits",
			lab: labParts{
				tg:    "      targets: [fw]\n    max_flows_per_node: 0",
				run:   "        run: {appliance: {flow_log_max_bytes: 100}}",
				hosts: "    h: {ip: 198.51.100.10, run: {appliance: {flow_log: true, flow_log_max_bytes: 2147483648}}}",
			},
			want: []string{
				`vpcs.v.instances.i.run.appliance: flow_log_max_bytes 100 is outside 4096-1073741824`,
				`vpcs.v.instances.i.run.appliance: flow_log_max_bytes needs flow_log: true`,
				`gwlbs.g: max_flows_per_node 0 is outside 1-10000000`,
				`internet.hosts.h.run.appliance: flow_log_max_bytes 2147483648 is outside 4096-1073741824`,
			},
		},
		{
			name: "duplicate target",
			lab:  labParts{tg: "      targets: [fw, fw, svc]"},
			want: []string{
				`gwlbs.g.target_group.targets[1]: target "fw" is already registered as targets[0]`,
				`gwlbs.g.target_group.targets[2]: target "svc" is an endpoint service, not an instance`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := strs(validateString(t, tt.lab.yaml()))
			if diff := cmp.Diff(append([]string{}, tt.want...), got); diff != "" {
				t.Fatalf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResolveLabLimits: the flow log's size cap has a default only where
// there is a flow log; a given flow limit is kept.
func TestResolveLabLimits(t *testing.T) {
	src := labParts{
		tg:    "      targets: [fw]\n    max_flows_per_node: 7",
		run:   "        run: {appliance: {flow_log: true}}",
		hosts: "    h: {ip: 198.51.100.10, run: {appliance: {flow_log: true, flow_log_max_bytes: 8192}}}",
	}.yaml()
	l := resolveBytes(t, []byte(src), "limits")
	g, _ := l.GWLB("g")
	if g.MaxFlowsPerNode != 7 {
		t.Errorf("max_flows_per_node resolved to %d, want 7", g.MaxFlowsPerNode)
	}
	for node, want := range map[string]int{"i": topology.DefaultFlowLogMaxBytes, "h": 8192, "fw": 0} {
		n, _ := l.Node(node)
		if got := n.Run.Appliance.FlowLogMaxBytes; got != want {
			t.Errorf("%s: flow_log_max_bytes resolved to %d, want %d", node, got, want)
		}
	}
}

// TestResolveRuns: runs, IPv6 routes and ip targets resolve with defaults.
func TestResolveRuns(t *testing.T) {
	src := labParts{
		run:   "        run: {appliance: {mode: firewall, rules: [{action: deny, cidr: 10.9.0.0/16}], misbehave: {vni: 5}}}",
		tg:    "      target_type: ip\n      targets: [10.1.1.10]",
		hosts: "    h: {ip: 198.51.100.10, run: {reflector: {}}}",
	}.yaml()
	l := resolveBytes(t, []byte(src), "runs")
	i, _ := l.Node("i")
	want := &topology.Run{Kind: topology.RunAppliance, Appliance: &topology.Appliance{
		Mode: "firewall", HealthPort: 80, DefaultAction: "allow",
		Rules:     []topology.FirewallRule{{Action: "deny", CIDR: netip.MustParsePrefix("10.9.0.0/16"), Protocol: "any"}},
		Misbehave: &topology.Misbehave{VNI: 5},
	}, Restart: topology.RestartNever}
	if diff := cmp.Diff(want, i.Run, netipOpts()); diff != "" {
		t.Errorf("appliance run (-want +got):\n%s", diff)
	}
	h, _ := l.Node("h")
	if h.Run == nil || h.Run.Kind != topology.RunReflector || h.Run.Reflector.HealthPort != 80 {
		t.Errorf("reflector run %+v", h.Run)
	}
	g, _ := l.GWLB("g")
	if g.MaxFlowsPerNode != topology.DefaultMaxFlowsPerNode {
		t.Errorf("max_flows_per_node resolved to %d", g.MaxFlowsPerNode)
	}
	if tg := g.TargetGroup; tg.TargetType != topology.TargetTypeIP || tg.Targets[0].Node != "fw" || tg.Targets[0].ID != "10.1.1.10" {
		t.Errorf("ip target %+v", tg.Targets)
	}
	v, _ := l.VPC("v")
	rt, _ := v.RouteTable("main")
	var dsts []string
	for _, r := range rt.Routes {
		dsts = append(dsts, r.Destination.String()+" "+r.Target.String())
	}
	if diff := cmp.Diff([]string{"10.1.0.0/16 local", "fd00:1::/56 local", "0.0.0.0/0 igw", "::/0 igw"}, dsts); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
}
