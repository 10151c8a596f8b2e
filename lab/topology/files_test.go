package topology_test

import (
	"errors"
	"flag"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/gwlb-lab/gwlb-lab/scenarios"
)

var update = flag.Bool("update", false, "rewrite the golden files (testdata/resolved/*.json, docs/topology.schema.json)")

// check parses and validates a file the way `gwlb-lab validate` does.
func check(t *testing.T, path string) topology.Diagnostics {
	t.Helper()
	f, err := topology.Load(path)
	if err != nil {
		var ds topology.Diagnostics
		if !errors.As(err, &ds) {
			t.Fatalf("load %s: %v", path, err)
		}
		return ds
	}
	return topology.Validate(f)
}

func strs(ds topology.Diagnostics) []string {
	out := []string{}
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

// TestInvalidFiles: each file of testdata/invalid has one problem, and
// gives exactly one error, with its path.
func TestInvalidFiles(t *testing.T) {
	tests := map[string]string{
		"address-outside-subnet":      `vpcs.consumer.instances.web: private_ip 10.0.2.10 is outside subnet "app" (10.0.1.0/24)`,
		"address-reserved":            `vpcs.security.instances.fw-1: private_ip 10.20.1.3 is reserved by AWS (the first four and the last address of subnet "appliances", 10.20.1.0/24)`,
		"az-without-target":           `gwlbs.gwlb-1.subnets.gwlb-2: az "az2" has no target: the target group needs at least one registered target in every az the GWLB enables (spec §4.6)`,
		"bad-name":                    `vpcs.security.instances.Fw-3: instance name "Fw-3" is not valid: use lowercase letters, digits and hyphens, at most 32, not starting or ending with a hyphen`,
		"dereg-delay-range":           `gwlbs.gwlb-1.target_group: deregistration_delay 4000 is outside AWS's range 0-3600 (set lab.lab_timings: true to allow it in the lab) (spec §4.5)`,
		"destination-not-prefix":      `vpcs.consumer.route_tables.app.routes[1]: destination "192.0.2.5/24" is not a prefix: did you mean 192.0.2.0/24?`,
		"duplicate-address":           `vpcs.security.instances.fw-2: private_ip 10.20.1.11 is already used by instance "fw-1"`,
		"duplicate-destination":       `vpcs.consumer.route_tables.endpoint.routes[1]: destination 0.0.0.0/0 is already routed by routes[0]`,
		"duplicate-key":               `vpcs.consumer.instances: duplicate key "web" (first defined on line 21)`,
		"edge-association-twice":      `vpcs.consumer.route_tables.edge: internet gateway "igw-consumer" is already associated with route table "edge-2"`,
		"edge-destination-not-subnet": `vpcs.consumer.route_tables.edge.routes[0]: destination 10.0.1.0/25 is more specific than vpc cidr 10.0.0.0/16 and must equal a whole subnet cidr (spec §6.2)`,
		"edge-destination-outside":    `vpcs.consumer.route_tables.edge.routes[0]: destination 0.0.0.0/0 is outside vpc cidr 10.0.0.0/16: a gateway route table only routes traffic into the vpc (spec §6.2)`,
		"edge-target-igw":             `vpcs.consumer.route_tables.edge.routes[0]: target "igw-consumer" is an internet gateway: a gateway route table can only target local, a GWLB endpoint or an instance (spec §6.2)`,
		"endpoint-az-not-enabled":     `vpcs.consumer.gwlb_endpoints.gwlbe-1: endpoint service "inspection" has no GWLB in az "az2": an endpoint's az must be one its GWLB enables (spec §6.1)`,
		"failover-mismatch":           `gwlbs.gwlb-1.target_group.target_failover: on_deregistration (rebalance) and on_unhealthy (no_rebalance) must be equal (spec §4.4)`,
		"gwlb-address-outside":        `gwlbs.gwlb-1.subnets.gwlb: address 10.20.1.50 is outside subnet "gwlb" (10.20.0.0/24)`,
		"gwlb-subnet-too-small":       `gwlbs.gwlb-1.subnets.gwlb: subnet "gwlb" (10.20.0.0/28) has 7 free addresses besides the GWLB node; a GWLB subnet needs at least 8 (spec §1)`,
		"gwlb-two-subnets-same-az":    `gwlbs.gwlb-1.subnets.gwlb-b: subnets "gwlb" and "gwlb-b" are both in az "az1": a GWLB has one subnet per az`,
		"hc-interval-lt-timeout":      `gwlbs.gwlb-1.target_group.health_check: interval 5 is shorter than timeout 10; AWS requires interval >= timeout (set lab.lab_timings: true to allow it in the lab) (spec §4.1)`,
		"hc-interval-range":           `gwlbs.gwlb-1.target_group.health_check: interval 301 is outside AWS's range 5-300 (set lab.lab_timings: true to allow it in the lab) (spec §4.1)`,
		"hc-protocol":                 `gwlbs.gwlb-1.target_group.health_check: protocol "UDP" is not one of TCP, HTTP, HTTPS`,
		"hc-threshold-range":          `gwlbs.gwlb-1.target_group.health_check: healthy_threshold 1 is outside AWS's range 2-10 (set lab.lab_timings: true to allow it in the lab) (spec §4.1)`,
		"hook-without-tunnel":         `vpcs.security.instances.fw-1.run.appliance: hook needs mode tunnel`,
		"idle-timeout-range":          `gwlbs.gwlb-1.listener: tcp_idle_timeout 30 is outside AWS's range 60-6000 (set lab.lab_timings: true to allow it in the lab) (spec §3.3)`,
		"idle-timeout-stickiness":     `gwlbs.gwlb-1.listener: tcp_idle_timeout 600 can only be set with 5-tuple stickiness; with 3-tuple AWS fixes it at 350 (set lab.lab_timings: true to allow it in the lab) (spec §3.3)`,
		"internet-host-private":       `internet.hosts.client: ip 10.1.2.3 is not a public address (internet hosts need one)`,
		"ip-target-public":            `gwlbs.gwlb-1.target_group.targets[1]: target 203.0.113.99 is a public address: targets of type ip must be private addresses (spec §1)`,
		"local-target-wrong":          `vpcs.consumer.route_tables.endpoint.routes[1]: target local only routes the vpc's own cidr 10.0.0.0/16`,
		"name-reused":                 `internet.hosts.web: name "web" is already used by the instance at vpcs.consumer.instances.web (names are unique across the file)`,
		"overlapping-subnets":         `vpcs.consumer.subnets.endpoint: cidr 10.0.1.0/28 overlaps subnet "app" (10.0.1.0/24)`,
		"overlapping-vpcs":            `vpcs.security: cidr 10.0.0.0/16 overlaps vpc "consumer" (10.0.0.0/16), which is connected to it through a GWLB endpoint service`,
		"public-ip-duplicate":         `vpcs.consumer.instances.web-2: public_ip 203.0.113.10 is already used by instance "web"`,
		"public-ip-in-vpc":            `vpcs.consumer.instances.web: public_ip 198.18.0.10 is inside vpc "partner" (198.18.0.0/16)`,
		"public-ip-private":           `vpcs.consumer.instances.web: public_ip 192.168.1.10 is not a public address`,
		"public-ip-without-igw":       `vpcs.security.instances.fw-1: public_ip needs an internet gateway, and vpc "security" has none`,
		"route-target-kind":           `vpcs.consumer.route_tables.app.routes[0]: target "gwlb-1" is a GWLB, which cannot be a route target (use local, blackhole, an internet gateway, a NAT gateway, a GWLB endpoint, an instance or a transit gateway)`,
		"route-target-other-vpc":      `vpcs.consumer.route_tables.app.routes[0]: target "fw-1" is an instance of vpc "security", not of vpc "consumer"`,
		"rules-in-forward-mode":       `vpcs.security.instances.fw-1.run.appliance: rules need mode firewall`,
		"run-two-kinds":               `vpcs.consumer.instances.web.run: run must set exactly one of http_echo, command, appliance, reflector (it sets http_echo and command)`,
		"stickiness-invalid":          `gwlbs.gwlb-1.target_group: stickiness "4-tuple" is not one of 5-tuple, 3-tuple, 2-tuple, source_ip_dest_ip_proto, source_ip_dest_ip`,
		"subnet-outside-vpc":          `vpcs.consumer.subnets.endpoint: cidr 10.1.2.0/28 is outside vpc cidr 10.0.0.0/16`,
		"subnet-without-route-table":  `vpcs.consumer.subnets.endpoint: subnet has no route_table and vpc "consumer" has no route table named main (AWS would use the VPC's main route table: name the subnet's table, or define one named main)`,
		"syntax-error":                `invalid YAML: did not find expected key`,
		"target-type-mismatch":        `gwlbs.gwlb-1.target_group.targets[1]: target "10.20.1.12" is an address but target_type is instance: name an instance, or set target_type: ip`,
		"tg-name":                     `gwlbs.gwlb-1.target_group: target group name "-fw-targets" is not valid: at most 32 letters, digits or hyphens, not starting or ending with a hyphen (spec §8)`,
		"time-scale-zero":             `lab: time_scale must be between 0.01 and 1000, got 0: faster, the shortest timers would last under a millisecond; slower, the longest would outlast the lab`,
		"time-scale-huge":             `lab: time_scale must be between 0.01 and 1000, got 1e+308: faster, the shortest timers would last under a millisecond; slower, the longest would outlast the lab`,
		"time-scale-too-fast":         `lab: time_scale must be between 0.01 and 1000, got 2e+10: faster, the shortest timers would last under a millisecond; slower, the longest would outlast the lab`,
		"time-scale-too-slow":         `lab: time_scale must be between 0.01 and 1000, got 1e-09: faster, the shortest timers would last under a millisecond; slower, the longest would outlast the lab`,
		"timing-beyond-a-day":         `gwlbs.gwlb-1.target_group: deregistration_delay must be at most 86400 (a day), even with lab.lab_timings, got 100000000000`,
		"two-documents":               `a topology file holds one YAML document; found a second one`,
		"two-endpoints-same-az":       `vpcs.consumer.gwlb_endpoints.gwlbe-2: endpoint service "inspection" already has endpoint "gwlbe-1" in az "az1" of vpc "consumer": one GWLB endpoint per az per service per vpc (spec §6.1)`,
		"undefined-edge-association":  `vpcs.consumer.route_tables.edge: edge_association "igw-consumr" is not defined`,
		"undefined-gwlb":              `endpoint_services.inspection.gwlbs[0]: gwlb "gwlb-2" is not defined`,
		"undefined-route-table":       `vpcs.consumer.subnets.app: route table "apps" is not defined in vpc "consumer"`,
		"undefined-route-target":      `vpcs.consumer.route_tables.app.routes[0]: target "gwlbe-9" is not defined`,
		"tgw-route-target":            `transit_gateways.tgw-1.route_tables.rt.routes[0]: target "att-2" is not an attachment of transit gateway "tgw-1" (use one of its attachments or blackhole)`,
		"tgw-route-unattached":        `vpcs.spoke.route_tables.app.routes[0]: vpc "spoke" has no attachment to transit gateway "tgw-1": add one under transit_gateways.tgw-1.attachments`,
		"tgw-two-subnets-same-az":     `transit_gateways.tgw-1.attachments.att-spoke.subnets[1]: subnet "b" is in az "az1" like subnet "a": an attachment has at most one subnet per AZ`,
		"undefined-service":           `vpcs.consumer.gwlb_endpoints.gwlbe-1: service "inspect" is not defined`,
		"undefined-subnet":            `vpcs.consumer.instances.web: subnet "ap" is not defined in vpc "consumer"`,
		"undefined-target":            `gwlbs.gwlb-1.target_group.targets[1]: target "fw-3" is not defined`,
		"undefined-vpc":               `gwlbs.gwlb-1: vpc "securty" is not defined`,
		"unknown-field":               `vpcs.consumer.subnets.app: unknown field "route_tabel" (did you mean "route_table"?)`,
		"wrong-kind":                  `gwlbs.gwlb-1.target_group.targets: expected a list, got "fw-1"`,
		"wrong-type":                  `gwlbs.gwlb-1.target_group.health_check.port: expected an integer, got "eighty"`,
	}
	assertCoversDir(t, "testdata/invalid", tests)
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			ds := check(t, filepath.Join("testdata", "invalid", name+".yaml"))
			errs := ds.Errors()
			if diff := cmp.Diff([]string{want}, strs(errs)); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if errs[0].Line == 0 {
				t.Errorf("error has no line: %+v", errs[0])
			}
		})
	}
}

// TestWarningFiles: each file of testdata/warn is valid, and gives exactly
// the expected warnings, each naming its spec section.
func TestWarningFiles(t *testing.T) {
	tests := map[string][]string{
		"edge-route-other-az":            {`vpcs.consumer.route_tables.edge.routes[0]: subnet "app" is in az "az1" but its edge route goes through endpoint "gwlbe-1" in az "az2": its outbound and inbound traffic reach different GWLB nodes, whose flow tables do not share state (spec §6.6 #2)`},
		"endpoint-loop":                  {`vpcs.consumer.gwlb_endpoints.gwlbe-a: traffic to 0.0.0.0/0 that leaves endpoint "gwlbe-a" loops through endpoints gwlbe-a → gwlbe-b → gwlbe-a: each endpoint's subnet routes it into the next, and nothing decrements the TTL (the lab drops such a packet as endpoint_loop) (spec §6.3)`},
		"endpoint-same-subnet":           {`vpcs.consumer.gwlb_endpoints.gwlbe-1: endpoint shares subnet "app" with instance "web", whose route table "app" sends 0.0.0.0/0 to it: same-subnet traffic is delivered at L2 without inspection, and inspected traffic loops back into the endpoint (spec §6.3)`},
		"nat-no-internet-route":          {`vpcs.consumer.nat_gateways.nat-1: the route table "nat" of its subnet "nat" has no 0.0.0.0/0 route to internet gateway "igw-consumer": translated traffic cannot reach the internet (spec §6.4)`},
		"nat-skips-endpoint":             {`vpcs.consumer.nat_gateways.nat-1: return traffic to subnet "app" (10.0.1.0/24) takes the local route of route table "public" and skips endpoint "gwlbe-1": the appliance sees one direction only (route 10.0.1.0/24, or the vpc cidr, through the endpoint) (spec §6.4, §6.6 #7)`},
		"no-edge-route":                  {`vpcs.consumer.subnets.app: subnet sends 0.0.0.0/0 through endpoint "gwlbe-1" to internet gateway "igw-consumer", but the gateway has no edge route table: inbound traffic bypasses inspection and GWLB drops the replies of flows it never saw (spec §6.6 #1)`},
		"route-target-source-dest-check": {`vpcs.consumer.instances.mb: instance is the target of vpcs.consumer.route_tables.app.routes[1] but keeps source_dest_check enabled: EC2 drops the packets it forwards (set source_dest_check: false) (spec §6.6 #13)`},
		"target-az-not-enabled":          {`gwlbs.gwlb-1.target_group.targets[2]: target "fw-3" is in az "az2", which GWLB "gwlb-1" does not enable: it stays unused (Target.NotInUse) (spec §4.2)`},
		"tgw-appliance-mode-off":         {`transit_gateways.tgw-1.attachments.att-inspection: appliance_mode_support is off, but attachment subnet "tgw-az1" routes 0.0.0.0/0 to GWLB endpoint "gwlbe-az1": the transit gateway keeps each direction of a flow in the AZ it entered in, so both directions of a cross-AZ flow reach different endpoints, GWLB nodes and appliances, which drop what they have no state for (set appliance_mode_support: true) (spec §6.5, §6.6 #4)`},
		"tgw-nat-skips-endpoint":         {`vpcs.inspection.nat_gateways.nat-1: return traffic to vpc "spoke" (10.1.0.0/16, behind transit gateway "tgw-1") takes the igw-inspection route of route table "public" and skips endpoint "gwlbe-1": the appliance sees one direction only (route 10.1.0.0/16, or a prefix holding it, through the endpoint) (spec §6.4, §6.6 #7)`},
		"tgw-two-gateways":               {`transit_gateways.tgw-2.attachments.tgw-2-security: vpc "security", which has GWLB endpoints, is attached to transit gateways "tgw-1" and "tgw-2": transit gateways share no flow state, so the two directions of a flow that enter through different gateways reach different appliances (attach an inspection VPC to one transit gateway) (spec §6.5, §6.6 #5)`},
		"tcp-health-check-path":          {`gwlbs.gwlb-1.target_group.health_check: path applies to HTTP and HTTPS health checks only; it is ignored with protocol TCP (spec §4.1)`},
		"lab-timings": {
			`gwlbs.gwlb-1.target_group.health_check: interval 1 is outside AWS's range 5-300 (accepted: lab.lab_timings is true) (spec §4.1)`,
			`gwlbs.gwlb-1.target_group.health_check: timeout 1 is outside AWS's range 2-120 (accepted: lab.lab_timings is true) (spec §4.1)`,
			`gwlbs.gwlb-1.target_group.health_check: unhealthy_threshold 1 is outside AWS's range 2-10 (accepted: lab.lab_timings is true) (spec §4.1)`,
			`gwlbs.gwlb-1.target_group: deregistration_delay 5000 is outside AWS's range 0-3600 (accepted: lab.lab_timings is true) (spec §4.5)`,
		},
	}
	assertCoversDir(t, "testdata/warn", tests)
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "warn", name+".yaml")
			ds := check(t, path)
			if errs := ds.Errors(); len(errs) > 0 {
				t.Fatalf("unexpected errors: %v", strs(errs))
			}
			if diff := cmp.Diff(want, strs(ds.Warnings())); diff != "" {
				t.Fatalf("warnings (-want +got):\n%s", diff)
			}
			for _, w := range ds.Warnings() {
				if w.Spec == "" || w.Line == 0 {
					t.Errorf("warning without spec section or line: %+v", w)
				}
			}
			f, err := topology.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := topology.Resolve(f, "warn"); err != nil {
				t.Fatalf("a file with warnings only must resolve: %v", err)
			}
		})
	}
}

// assertCoversDir fails when a file of dir has no test case or a case has no
// file.
func assertCoversDir[V any](t *testing.T, dir string, cases map[string]V) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".yaml"))
	}
	for _, n := range names {
		if _, ok := cases[n]; !ok {
			t.Errorf("%s/%s.yaml has no test case", dir, n)
		}
	}
	for n := range cases {
		if !slices.Contains(names, n) {
			t.Errorf("test case %q has no file in %s", n, dir)
		}
	}
}

// TestScenariosAreValid: the shipped lab files validate; the default lab
// without a single warning.
func TestScenariosAreValid(t *testing.T) {
	for _, name := range []string{"default.yaml", "plain-vpc.yaml"} {
		t.Run(name, func(t *testing.T) {
			data, err := scenarios.FS.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			f, err := topology.Parse(data, name)
			if err != nil {
				t.Fatal(err)
			}
			ds := topology.Validate(f)
			if errs := ds.Errors(); len(errs) > 0 {
				t.Fatalf("errors: %v", strs(errs))
			}
			if w := ds.Warnings(); len(w) > 0 {
				t.Fatalf("warnings: %v", strs(w))
			}
		})
	}
}
