package scenario_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// head starts every test scenario: the default lab (client, web, fw-1 and
// fw-2 behind gwlb-1, tables app, endpoint and edge).
const head = "name: t\ntopology_builtin: default\nsteps:\n"

// twoVPCs starts a test scenario with two VPCs that both have a table
// named main, an instance x without a public address and an internet host h.
const twoVPCs = `name: t
topology:
  vpcs:
    a:
      cidr: 10.0.0.0/16
      subnets: {s: {az: az1, cidr: 10.0.1.0/24}}
      route_tables: {main: {}}
      instances: {x: {subnet: s, run: {http_echo: {}}}}
    b:
      cidr: 10.1.0.0/16
      route_tables: {main: {}}
  internet: {hosts: {h: {ip: 198.51.100.10}}}
steps:
`

// TestErrors: one broken file per kind of error, with the exact path, line
// and message.
func TestErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []finding
	}{
		{"unknown field", head + "  - traffic: {from: client, to: web, protocl: tcp}\n  - expect: [{reaches: {traffic: x}}]\n",
			[]finding{{"error", "steps[0].traffic", 4, `unknown field "protocl" (did you mean "protocol"?)`}}},
		{"wrong type", head + "  - traffic: {from: client, to: web, port: http}\n",
			[]finding{{"error", "steps[0].traffic.port", 4, `expected an integer, got "http"`}}},
		{"no topology", "name: t\nsteps:\n  - wait: {duration: 1s}\n",
			[]finding{{"error", "", 1, "a scenario needs its lab: set one of topology (inline), topology_file or topology_builtin"}}},
		{"two topologies", "name: t\ntopology_builtin: default\ntopology_file: x.yaml\nsteps:\n  - wait: {duration: 1s}\n",
			[]finding{{"error", "topology_builtin", 2, "set exactly one of topology, topology_file and topology_builtin; this file sets topology_file and topology_builtin"}}},
		{"unknown builtin", "name: t\ntopology_builtin: nope\nsteps:\n  - wait: {duration: 1s}\n",
			[]finding{{"error", "topology_builtin", 2, `no built-in topology "nope" (built-in: default, plain-vpc)`}}},
		{"no steps", "name: t\ntopology_builtin: default\nsteps: []\n",
			[]finding{{"error", "steps", 3, "steps is required: a scenario needs at least one step"}}},
		{"null step", "name: t\ntopology_builtin: default\nsteps: [null]\n",
			[]finding{{"error", "steps[0]", 3, "a step needs one of traffic, fault, route, asg, wait, expect"}}},
		{"no name", "topology_builtin: default\nsteps:\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "name", 1, "name is required: a short name for reports"}}},
		{"empty step", head + "  - {}\n",
			[]finding{{"warning", "steps", 3, "the scenario expects nothing: add an expect step, or it can only fail by a wait's timeout"}, {"error", "steps[0]", 4, "a step needs one of traffic, fault, route, asg, wait, expect"}}},
		{"two keys in a step", head + "  - traffic: {from: client, to: web}\n    wait: {duration: 1s}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].wait", 5, "a step holds exactly one of traffic, fault, route, asg, wait, expect; this one sets traffic and wait: split it"}}},
		{"unknown node", head + "  - traffic: {from: klient, to: web}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].traffic.from", 4, `node "klient" is not in the topology (nodes: client, fw-1, fw-2, web)`}}},
		{"traffic from a GWLB node", head + "  - traffic: {from: gwlb-1-az1, to: web}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].traffic.from", 4, `"gwlb-1-az1" is a GWLB node: traffic starts at an instance or an internet host`}}},
		{"bad address", head + "  - traffic: {from: client, to: 203.0.113.300}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].traffic.to", 4, `to "203.0.113.300" is not an IPv4 or IPv6 address`}}},
		{"port out of range", head + "  - traffic: {from: client, to: web, protocol: tcp, port: 70000}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].traffic.port", 4, "port 70000 is not between 1 and 65535"}}},
		{"icmp with a port", head + "  - traffic: {from: client, to: web, protocol: icmp, port: 80}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].traffic.port", 4, "icmp has no port: leave port out"}}},
		{"unknown protocol", head + "  - traffic: {from: client, to: web, protocol: sctp}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].traffic.protocol", 4, `protocol "sctp" is not one of http, tcp, udp, icmp`}}},
		{"bad duration", head + "  - traffic: {from: client, to: web, duration: 10}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].traffic.duration", 4, `"10" is not a duration: write a number with a unit, e.g. 500ms, 30s or 5m`}}},
		{"size and duration", head + "  - traffic: {from: client, to: web, size: 100, duration: 1s}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].traffic.duration", 4, "set size or duration, not both"}}},
		{"duplicate traffic name", head + "  - traffic: {name: a, from: client, to: web}\n  - traffic: {name: a, from: web, to: client}\n  - expect: [{reaches: {traffic: a}}]\n",
			[]finding{{"error", "steps[1].traffic.name", 5, `traffic name "a" is already used at steps[0].traffic.name (line 4)`}}},
		{"label used before it is defined", head + "  - expect: [{reaches: {traffic: later}}]\n  - traffic: {name: later, from: client, to: web}\n",
			[]finding{{"error", "steps[0].expect[0].reaches.traffic", 4, `no earlier traffic step is named "later" (named so far: none)`}}},
		{"label and from", head + "  - traffic: {name: a, from: client, to: web}\n  - expect: [{symmetric: {traffic: a, from: client}}]\n",
			[]finding{{"error", "steps[1].expect[0].symmetric.from", 5, "give traffic, or from and to, not both"}}},
		{"no fault", head + "  - fault: {}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].fault", 4, "a fault needs one of node_stop, node_start, node_restart, node_pause, node_unpause, health_fail, health_clear, deregister, register, link"}}},
		{"two faults", head + "  - fault: {node_stop: fw-1, health_fail: fw-2}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].fault.health_fail", 4, "a fault holds exactly one of node_stop, node_start, node_restart, node_pause, node_unpause, health_fail, health_clear, deregister, register, link; this one sets node_stop and health_fail: split it"}}},
		{"unknown target", head + "  - fault: {health_fail: fw-3}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].fault.health_fail", 4, `"fw-3" is not a registered target (targets: fw-1, fw-2)`}}},
		{"qualified target of no GWLB", head + "  - fault: {deregister: gwlb-9/fw-1}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].fault.deregister", 4, `no GWLB "gwlb-9" in the topology`}}},
		{"node that runs nothing", "name: t\ntopology:\n  vpcs:\n    v:\n      cidr: 10.0.0.0/16\n      subnets: {s: {az: az1, cidr: 10.0.1.0/24}}\n      route_tables: {main: {}}\n      instances: {idle: {subnet: s}}\nsteps:\n  - fault: {node_stop: idle}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].fault.node_stop", 10, `node "idle" runs no program (no run section): there is nothing to stop`}}},
		{"link without a change", head + "  - fault: {link: {node: fw-1}}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].fault.link", 4, "link changes nothing: give at least one of down, loss, delay and jitter"}}},
		{"loss over 100", head + "  - fault: {link: {node: fw-1, loss: 120}}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].fault.link.loss", 4, "loss 120 is not a percentage between 0 and 100"}}},
		{"jitter without delay", head + "  - fault: {link: {node: fw-1, jitter: 5ms}}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].fault.link.jitter", 4, "jitter needs delay: it varies the delay"}}},
		{"unknown table", head + "  - route: {table: apps, action: add, destination: 10.9.0.0/16, target: gwlbe-1}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].route.table", 4, `no route table "apps" in the topology (tables: consumer/app, consumer/edge, consumer/endpoint, security/main)`}}},
		{"route target of another VPC", head + "  - route: {table: app, action: replace, destination: 0.0.0.0/0, target: fw-1}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].route.target", 4, `target "fw-1" is not local, blackhole, or an internet gateway, NAT gateway, GWLB endpoint or instance of vpc "consumer", or a transit gateway it is attached to`}}},
		{"add an existing route", head + "  - route: {table: app, action: add, destination: 0.0.0.0/0, target: igw-consumer}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].route.destination", 4, `route table "app" already has a route to 0.0.0.0/0 by then: use action replace`}}},
		{"delete a deleted route", head + "  - route: {table: edge, action: delete, destination: 10.0.1.0/24}\n  - route: {table: edge, action: delete, destination: 10.0.1.0/24}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[1].route.destination", 5, `route table "edge" has no route to 10.0.1.0/24 by then: use action add`}}},
		{"destination with host bits", head + "  - route: {table: app, action: replace, destination: 10.0.1.5/24, target: gwlbe-1}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].route.destination", 4, `destination "10.0.1.5/24" is not a prefix: did you mean 10.0.1.0/24?`}}},
		{"delete with a target", head + "  - route: {table: edge, action: delete, destination: 10.0.1.0/24, target: gwlbe-1}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].route.target", 4, "delete takes no target: leave target out"}}},
		{"gateway table to the internet gateway", head + "  - route: {table: edge, action: replace, destination: 10.0.1.0/24, target: igw-consumer}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].route.target", 4, `route table "edge" is a gateway route table (edge-associated with igw-consumer): its routes may target only local, a GWLB endpoint or an instance, not igw-consumer`}}},
		{"wait for nothing", head + "  - wait: {timeout: 5s}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].wait", 4, "a wait needs one of target, flows, traffic, asg, duration"}}},
		{"wait for a target without a state", head + "  - wait: {target: fw-1}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].wait.state", 4, "a wait for a target needs state: one of initial, healthy, unhealthy, draining, unused"}}},
		{"unknown state", head + "  - wait: {target: fw-1, state: up}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].wait.state", 4, `state "up" is not one of initial, healthy, unhealthy, draining, unused`}}},
		{"duration with a timeout", head + "  - wait: {duration: 5s, timeout: 10s}\n  - expect: [{drop: {reason: gwlb, zero: true}}]\n",
			[]finding{{"error", "steps[0].wait.timeout", 4, "a wait for a duration has no timeout"}}},
		{"wait for foreground traffic", head + "  - traffic: {name: a, from: client, to: web}\n  - wait: {traffic: a}\n  - expect: [{reaches: {traffic: a}}]\n",
			[]finding{{"error", "steps[1].wait.traffic", 5, `traffic "a" does not run in the background: it has ended before the next step starts (set background: true on it)`}}},
		{"empty expect", head + "  - expect: []\n",
			[]finding{{"error", "steps[0].expect", 4, "expect is empty: list at least one expectation"}}},
		{"two expectations in one item", head + "  - expect:\n      - drop: {reason: gwlb, zero: true}\n        target: {name: fw-1, state: healthy}\n",
			[]finding{{"error", "steps[0].expect[0].target", 6, "an expectation holds exactly one of reaches, blocked, traverses, bypasses, symmetric, one_target, drop, target, asg; this one sets drop and target: split it"}}},
		{"unknown drop reason", head + "  - expect: [{drop: {reason: tcp_noflow, rose: true}}]\n",
			[]finding{{"error", "steps[0].expect[0].drop.reason", 4, `"tcp_noflow" is not a drop reason of the emulator (`}}},
		{"rose and zero", head + "  - expect: [{drop: {reason: tcp_no_flow, rose: true, zero: false}}]\n",
			[]finding{{"error", "steps[0].expect[0].drop.zero", 4, "set rose or zero, not both"}}},
		{"appliance that is not a target", head + "  - traffic: {name: a, from: client, to: web}\n  - expect: [{traverses: {traffic: a, appliance: web}}]\n",
			[]finding{{"error", "steps[1].expect[0].traverses.appliance", 5, `"web" is not a target of any GWLB: no traffic reaches it through one`}}},
		{"both and forward", head + "  - traffic: {name: a, from: client, to: web}\n  - expect: [{traverses: {traffic: a, directions: [both, forward]}}]\n",
			[]finding{{"error", "steps[1].expect[0].traverses.directions[1]", 5, "both already means forward and return: list it alone"}}},
		{"ambiguous table", twoVPCs + "  - route: {table: main, action: add, destination: 0.0.0.0/0, target: blackhole}\n  - expect: [{drop: {reason: blackhole, zero: true}}]\n",
			[]finding{{"error", "steps[0].route.table", 14, `more than one VPC has a route table "main": write a/main or b/main`}}},
		{"qualified table", twoVPCs + "  - route: {table: b/main, action: add, destination: 0.0.0.0/0, target: blackhole}\n  - expect: [{drop: {reason: blackhole, zero: true}}]\n",
			[]finding{}},
		{"instance without a public address from the internet", twoVPCs + "  - traffic: {from: h, to: x}\n  - expect: [{drop: {reason: blackhole, zero: true}}]\n",
			[]finding{{"error", "steps[0].traffic.to", 14, `instance "x" has no public address, so internet host "h" cannot reach it by name: give an address, or a public_ip to the instance`}}},
		{"unknown group", head + "  - asg: {name: flet, desired: 2}\n  - expect: [{asg: {name: fleet, desired: 2}}]\n",
			[]finding{{"error", "steps[0].asg.name", 4, `no Auto Scaling group "flet"; the lab's groups: fleet`}}},
		{"desired above max", head + "  - asg: {name: fleet, desired: 5}\n  - expect: [{asg: {name: fleet, desired: 2}}]\n",
			[]finding{{"error", "steps[0].asg.desired", 4, "desired capacity 5 is outside group fleet's min-max (0-4)"}}},
		{"asg step without desired", head + "  - asg: {name: fleet}\n  - expect: [{asg: {name: fleet, desired: 2}}]\n",
			[]finding{{"error", "steps[0].asg.desired", 4, "desired is required: the group's new desired capacity"}}},
		{"wait for a group without in_service", head + "  - wait: {asg: fleet, healthy: true}\n  - expect: [{asg: {name: fleet, desired: 2}}]\n",
			[]finding{{"error", "steps[0].wait.asg", 4, "a wait for a group needs in_service: how many InService instances to wait for"}}},
		{"wait for more than max", head + "  - wait: {asg: fleet, in_service: 9}\n  - expect: [{asg: {name: fleet, desired: 2}}]\n",
			[]finding{{"error", "steps[0].wait.in_service", 4, "in_service 9 is above group fleet's max (4): the wait could never end"}}},
		{"in_service without asg", head + "  - wait: {target: fw-1, state: healthy, in_service: 2}\n  - expect: [{asg: {name: fleet, desired: 2}}]\n",
			[]finding{{"error", "steps[0].wait.in_service", 4, "in_service goes with asg only"}}},
		{"asg expectation of nothing", head + "  - expect:\n      - asg: {name: fleet}\n",
			[]finding{{"error", "steps[0].expect[0].asg", 5, "asg needs desired, in_service or traffic: what to expect of the group"}}},
		{"asg flows without traffic", head + "  - expect:\n      - asg: {name: fleet, desired: 1, flows: none}\n",
			[]finding{{"error", "steps[0].expect[0].asg.flows", 5, "flows goes with traffic"}}},
		{"asg expectation of unknown traffic", head + "  - expect:\n      - asg: {name: fleet, traffic: nope}\n",
			[]finding{{"error", "steps[0].expect[0].asg.traffic", 5, `no earlier traffic step is named "nope" (named so far: none)`}}},
		{"a lab without groups", twoVPCs + "  - asg: {name: fleet, desired: 1}\n  - expect: [{drop: {reason: blackhole, zero: true}}]\n",
			[]finding{{"error", "steps[0].asg.name", 14, `no Auto Scaling group "fleet": the lab has none (autoscaling_groups in its topology)`}}},
		{"inline topology error", "name: t\ntopology:\n  vpcs:\n    a: {cidr: 10.0.0.0/33}\nsteps:\n  - wait: {duration: 1s}\n",
			[]finding{{"error", "topology.vpcs.a", 4, `cidr "10.0.0.0/33" is not a prefix`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := findings(validate(t, t.TempDir(), "s.yaml", tt.text))
			if len(tt.want) == 1 && strings.HasSuffix(tt.want[0].Message, "(") && len(got) == 1 && strings.HasPrefix(got[0].Message, tt.want[0].Message) {
				// The message goes on with a list of every name: compare
				// its start.
				got[0].Message = tt.want[0].Message
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestTopologyFile: topology_file is read relative to the scenario, and
// its findings name the scenario's key, with the other file's line in the
// message.
func TestTopologyFile(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "labs")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	lab := "vpcs:\n  v:\n    cidr: 10.0.0.0/16\n    subnets: {s: {az: az1, cidr: 10.1.0.0/24}}\n    route_tables: {main: {}}\n"
	if err := os.WriteFile(filepath.Join(sub, "lab.yaml"), []byte(lab), 0o644); err != nil {
		t.Fatal(err)
	}
	got := findings(validate(t, dir, "s.yaml", "name: t\ntopology_file: labs/lab.yaml\nsteps:\n  - wait: {duration: 1s}\n"))
	want := []finding{{"error", "topology_file", 2, filepath.Join(sub, "lab.yaml") + `:4: vpcs.v.subnets.s: cidr 10.1.0.0/24 is not inside the vpc's cidr 10.0.0.0/16`}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(finding{}, "Message")); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(got[0].Message, filepath.Join(sub, "lab.yaml")+":4: vpcs.v.subnets.s") {
		t.Errorf("message %q does not name the topology file's line and path", got[0].Message)
	}

	got = findings(validate(t, dir, "s.yaml", "name: t\ntopology_file: labs/none.yaml\nsteps:\n  - wait: {duration: 1s}\n"))
	if len(got) != 1 || got[0].Path != "topology_file" || !strings.Contains(got[0].Message, "no such file") {
		t.Errorf("missing topology_file: %+v", got)
	}
}

// TestWarningsAreNotErrors: a topology that AWS accepts but that cannot
// work (here: no edge route, spec §6.6 #1) validates with its warnings,
// under the topology key.
func TestWarningsAreNotErrors(t *testing.T) {
	text := `name: t
topology:
  vpcs:
    consumer:
      cidr: 10.0.0.0/16
      internet_gateway: igw
      subnets:
        app: {az: az1, cidr: 10.0.1.0/24, route_table: app}
        endpoint: {az: az1, cidr: 10.0.2.0/28, route_table: endpoint}
      route_tables:
        app: {routes: [{destination: 0.0.0.0/0, target: gwlbe-1}]}
        endpoint: {routes: [{destination: 0.0.0.0/0, target: igw}]}
      instances:
        web: {subnet: app, public_ip: 203.0.113.10, run: {http_echo: {}}}
      gwlb_endpoints:
        gwlbe-1: {subnet: endpoint, service: svc}
    security:
      cidr: 10.20.0.0/16
      subnets: {g: {az: az1, cidr: 10.20.0.0/24}}
      route_tables: {main: {}}
      instances:
        fw-1: {subnet: g, run: {appliance: {}}}
  gwlbs:
    gwlb-1: {vpc: security, subnets: {g: null}, target_group: {targets: [fw-1]}}
  endpoint_services:
    svc: {gwlbs: [gwlb-1]}
steps:
  - expect: [{drop: {reason: tcp_no_flow, zero: true}}]
`
	ds := validate(t, t.TempDir(), "s.yaml", text)
	if ds.HasErrors() {
		t.Fatalf("errors: %v", ds)
	}
	if len(ds.Warnings()) == 0 {
		t.Fatal("no warning about the missing edge route")
	}
	for _, d := range ds {
		if !strings.HasPrefix(d.Path, "topology.") || d.Spec == "" || d.Line == 0 {
			t.Errorf("warning %+v: want a path under topology, a line and a spec section", d)
		}
	}
}
