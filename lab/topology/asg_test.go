package topology_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// asgLab is a valid lab with a GWLB over two AZs whose only targets come
// from an Auto Scaling group.
const asgLab = `vpcs:
  sec:
    cidr: 10.20.0.0/16
    subnets:
      gwlb-a: {az: az1, cidr: 10.20.0.0/24}
      gwlb-b: {az: az2, cidr: 10.20.10.0/24}
      apps-a: {az: az1, cidr: 10.20.1.0/24}
      apps-b: {az: az2, cidr: 10.20.11.0/24}
    route_tables:
      main: {}
gwlbs:
  gw:
    vpc: sec
    subnets: {gwlb-a: , gwlb-b: }
    target_group:
      name: fw-tg
autoscaling_groups:
  fw:
    vpc: sec
    subnets: [apps-a, apps-b]
    launch_template:
      run: {appliance: {mode: forward}}
    min: 2
    max: 4
    target_groups: [fw-tg]
    health_check_type: ELB
    lifecycle_hooks:
      warm: {transition: launching, heartbeat_timeout: 60, default_result: CONTINUE}
      drain: {transition: terminating}
    target_tracking: {metric: ActiveFlowCountPerTarget, target_value: 100, scale_in_cooldown: 60}
`

func TestASGResolve(t *testing.T) {
	l := resolveBytes(t, []byte(asgLab), "a1")
	g, ok := l.AutoScalingGroup("fw")
	if !ok {
		t.Fatalf("no group fw in %+v", l.AutoScalingGroups)
	}
	if g.Min != 2 || g.Max != 4 || g.Desired != 2 {
		t.Errorf("min/max/desired = %d/%d/%d, want 2/4/2 (desired defaults to min)", g.Min, g.Max, g.Desired)
	}
	if g.HealthCheckGracePeriod != 300*time.Second || g.HealthCheckType != "ELB" {
		t.Errorf("grace %v type %s, want 300s ELB", g.HealthCheckGracePeriod, g.HealthCheckType)
	}
	if len(g.Subnets) != 2 || g.Subnets[0] != (topology.ASGSubnet{Name: "apps-a", AZ: "az1"}) || g.Subnets[1].AZ != "az2" {
		t.Errorf("subnets %+v", g.Subnets)
	}
	if len(g.TargetGroups) != 1 || g.TargetGroups[0] != (topology.ASGTargetGroup{Name: "fw-tg", GWLB: "gw"}) {
		t.Errorf("target groups %+v", g.TargetGroups)
	}
	want := []topology.LifecycleHook{
		{Name: "drain", Transition: "terminating", HeartbeatTimeout: time.Hour, DefaultResult: "ABANDON"},
		{Name: "warm", Transition: "launching", HeartbeatTimeout: time.Minute, DefaultResult: "CONTINUE"},
	}
	if len(g.LifecycleHooks) != 2 || g.LifecycleHooks[0] != want[0] || g.LifecycleHooks[1] != want[1] {
		t.Errorf("hooks %+v, want %+v", g.LifecycleHooks, want)
	}
	tt := g.TargetTracking
	if tt == nil || tt.TargetValue != 100 || tt.ScaleOutCooldown != 300*time.Second || tt.ScaleInCooldown != time.Minute {
		t.Errorf("target tracking %+v", tt)
	}
	if r := g.LaunchTemplate.Run; r == nil || r.Kind != topology.RunAppliance || !g.LaunchTemplate.SourceDestCheck {
		t.Errorf("launch template %+v", g.LaunchTemplate)
	}
	n, ok := l.ASGNode(g, "fw-3", "apps-b")
	if !ok || n.AZ != "az2" || n.Netns != topology.NetnsName("a1", "fw-3") || n.Interface.Gateway.String() != "10.20.11.1" {
		t.Errorf("ASGNode = %+v, %v", n, ok)
	}
	for _, n := range l.Nodes {
		if strings.HasPrefix(n.Name, "fw-") {
			t.Errorf("node %s: a group's instances are launched at run time, not by up", n.Name)
		}
	}
}

func TestASGRules(t *testing.T) {
	tests := []struct {
		name, old, new string
		want           string // a finding's text, with its line: "line N: ..."
	}{
		{"min above max", "    min: 2\n", "    min: 5\n", "line 24: autoscaling_groups.fw: max 4 is less than min 5"},
		{"desired outside", "    min: 2\n", "    min: 2\n    desired: 7\n", "desired 7 is outside min-max (2-4)"},
		{"min missing", "    min: 2\n", "", "min is required"},
		{"subnet unknown", "[apps-a, apps-b]", "[apps-a, nope]", `line 20: autoscaling_groups.fw.subnets[1]: subnet "nope" is not defined in vpc "sec"`},
		{"two subnets in one AZ", "apps-b: {az: az2", "apps-b: {az: az1", `is in az "az1" like subnet "apps-a": list one subnet per AZ`},
		{"target group unknown", "target_groups: [fw-tg]", "target_groups: [gw-tg]", `target group "gw-tg" is not defined`},
		{"hook transition", "transition: terminating", "transition: leaving", `transition "leaving" is not one of launching, terminating`},
		{"heartbeat out of AWS range", "heartbeat_timeout: 60", "heartbeat_timeout: 10", "heartbeat_timeout 10 is outside AWS's range 30-7200"},
		{"metric unknown", "metric: ActiveFlowCountPerTarget", "metric: CPUUtilization", `metric "CPUUtilization" is not one of`},
		{"target value", "target_value: 100", "target_value: 0", "target_value is required and must be greater than 0"},
		{"tracking without target groups", "    target_groups: [fw-tg]\n", "", "the group needs target_groups"},
		{"instance name taken", "  fw:\n    vpc: sec", "  fw:\n    vpc: sec\n  fw-2:\n    vpc: sec", `name "fw-2" is taken by the instances of auto scaling group "fw"`},
		{"no target in an AZ", "[apps-a, apps-b]", "[apps-a]", `az "az2" has no target`},
		{"long name", "  fw:\n", "  fw-with-a-name-of-twenty-nine:\n", "is longer than 28 characters"},
		{"health check type", "health_check_type: ELB", "health_check_type: ALB", `health_check_type "ALB" is not one of EC2, ELB`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(asgLab, tc.old, tc.new, 1)
			if src == asgLab {
				t.Fatalf("case does not change the file: %q not found", tc.old)
			}
			var got []string
			for _, d := range validateString(t, src) {
				got = append(got, fmt.Sprintf("line %d: %s", d.Line, d))
			}
			if !strings.Contains(strings.Join(got, "\n"), tc.want) {
				t.Errorf("findings do not contain %q:\n%s", tc.want, strings.Join(got, "\n"))
			}
		})
	}
	if ds := validateString(t, asgLab); len(ds) > 0 {
		t.Errorf("the base lab has findings: %v", ds)
	}
}
