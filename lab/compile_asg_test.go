package lab

import (
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
)

// TestCompileASG: a group of the default lab reaches the emulator's
// configuration with its GWLB named, its durations in seconds and no
// launch template (the lab keeps that).
func TestCompileASG(t *testing.T) {
	src := defaultWithoutGroup(t) + `
autoscaling_groups:
  fleet:
    vpc: security
    subnets: [appliances]
    launch_template: {run: {appliance: {}}}
    min: 1
    max: 3
    desired: 2
    health_check_grace_period: 30
    health_check_type: ELB
    target_groups: [fw-targets]
    lifecycle_hooks:
      drain: {transition: terminating, heartbeat_timeout: 45}
    target_tracking: {metric: NewFlowCountPerTarget, target_value: 50, scale_out_cooldown: 60}
`
	l := resolveSrc(t, []byte(src), "default.yaml")
	s, err := Compile(l, InDir("/run/netns"), "/run/gwlb-lab/unit/control.sock")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.AutoScalingGroups) != 1 {
		t.Fatalf("groups %+v", s.AutoScalingGroups)
	}
	g := s.AutoScalingGroups[0]
	if g.Name != "fleet" || g.VPC != "security" || g.Min != 1 || g.Desired != 2 || g.Max != 3 ||
		g.HealthCheckGracePeriod != 30 || g.HealthCheckType != "ELB" {
		t.Errorf("group %+v", g)
	}
	if len(g.Subnets) != 1 || g.Subnets[0] != (config.ASGSubnet{Name: "appliances", AZ: "az1"}) {
		t.Errorf("subnets %+v", g.Subnets)
	}
	if len(g.TargetGroups) != 1 || g.TargetGroups[0] != (config.ASGTargetGroup{Name: "fw-targets", GWLB: "gwlb-1"}) {
		t.Errorf("target groups %+v", g.TargetGroups)
	}
	if len(g.LifecycleHooks) != 1 || g.LifecycleHooks[0] != (config.LifecycleHook{Name: "drain", Transition: "terminating", HeartbeatTimeout: 45, DefaultResult: "ABANDON"}) {
		t.Errorf("hooks %+v", g.LifecycleHooks)
	}
	if tt := g.TargetTracking; tt == nil || *tt != (config.TargetTracking{Metric: "NewFlowCountPerTarget", TargetValue: 50, ScaleOutCooldown: 60, ScaleInCooldown: 300}) {
		t.Errorf("target tracking %+v", tt)
	}
	bad := *s
	bad.AutoScalingGroups = []config.AutoScalingGroup{g}
	bad.AutoScalingGroups[0].Desired = 9
	if err := bad.Validate(); err == nil {
		t.Error("a snapshot with desired above max validates")
	}
}
