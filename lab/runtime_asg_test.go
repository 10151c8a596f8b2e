package lab

import (
	"context"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/gwlb-lab/gwlb-lab/scenarios"
)

// asgDefault is the default lab with an Auto Scaling group of appliances.
func asgDefault(t *testing.T) *topology.Lab {
	t.Helper()
	src := defaultWithoutGroup(t) + `
autoscaling_groups:
  fleet:
    vpc: security
    subnets: [appliances]
    launch_template:
      source_dest_check: false
      run: {appliance: {mode: firewall, default_action: deny}}
    min: 0
    max: 3
    target_groups: [fw-targets]
`
	return resolveSrc(t, []byte(src), "default.yaml")
}

// TestReserveFromASG: node add --asg makes the node the group's launch
// template says, in one of the group's subnets only.
func TestReserveFromASG(t *testing.T) {
	m, l, p := runtimeLabOf(t, asgDefault(t))
	ctx := context.Background()
	n, err := m.reserve(ctx, l.Name, p, l, &NodeSpec{Name: "fleet-1", Subnet: "appliances", ASG: "fleet"})
	if err != nil {
		t.Fatal(err)
	}
	if n.Run == nil || n.Run.Appliance == nil || n.Run.Appliance.Mode != topology.ApplianceFirewall || n.Interface.SourceDestCheck {
		t.Fatalf("node %+v, run %+v: want the launch template's firewall without source/destination check", n, n.Run)
	}
	if n.AZ != "az1" || n.Interface.Addr.String() != "10.20.1.4/24" {
		t.Fatalf("placed %s %s", n.AZ, n.Interface.Addr)
	}
	st, err := readState(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.RuntimeNodes[0].From != "asg:fleet" {
		t.Fatalf("recorded from %q", st.RuntimeNodes[0].From)
	}
	for _, c := range []struct {
		spec NodeSpec
		want string
	}{
		{NodeSpec{Name: "x", Subnet: "appliances", ASG: "nope"}, `no such auto scaling group (groups: fleet)`},
		{NodeSpec{Name: "x", Subnet: "gwlb", ASG: "fleet"}, `subnet "gwlb" is not one of auto scaling group "fleet"'s (appliances in vpc security)`},
	} {
		if _, err := m.reserve(ctx, l.Name, p, l, &c.spec); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.spec, err, c.want)
		}
	}
}

// defaultWithoutGroup is the default lab without its own (empty) group,
// for tests that give the group their own shape.
func defaultWithoutGroup(t *testing.T) string {
	t.Helper()
	s, _, ok := strings.Cut(string(scenarios.Default()), "\n# An Auto Scaling group")
	if !ok {
		t.Fatal("the default lab's group is not where the tests expect it")
	}
	return s + "\n"
}
