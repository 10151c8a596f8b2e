package config

import "math"

// AutoScalingGroup is an EC2 Auto Scaling group the emulator's controller
// runs (spec §13). The emulator does not make its instances itself: its
// actuator asks the lab for a node (named <Name>-<n>) in one of Subnets.
// Durations are seconds of lab time.
type AutoScalingGroup struct {
	Name    string      `json:"name"`
	VPC     string      `json:"vpc"`
	Subnets []ASGSubnet `json:"subnets"` // one per AZ, in the file's order
	Min     int         `json:"min"`
	Max     int         `json:"max"`
	Desired int         `json:"desired"`
	// HealthCheckGracePeriod in seconds; HealthCheckType EC2 or ELB.
	HealthCheckGracePeriod int              `json:"health_check_grace_period"`
	HealthCheckType        string           `json:"health_check_type"`
	TargetGroups           []ASGTargetGroup `json:"target_groups,omitempty"`
	LifecycleHooks         []LifecycleHook  `json:"lifecycle_hooks,omitempty"`
	TargetTracking         *TargetTracking  `json:"target_tracking,omitempty"`
}

// ASGSubnet is one subnet of a group.
type ASGSubnet struct {
	Name string `json:"name"`
	AZ   string `json:"az"`
}

// ASGTargetGroup is a target group a group registers its instances in,
// with the GWLB that owns it.
type ASGTargetGroup struct {
	Name string `json:"name"`
	GWLB string `json:"gwlb"`
}

// Lifecycle hook transitions and results.
const (
	TransitionLaunching   = "launching"
	TransitionTerminating = "terminating"
	ResultContinue        = "CONTINUE"
	ResultAbandon         = "ABANDON"
)

// LifecycleHook holds an instance in a wait state (spec §13.2).
type LifecycleHook struct {
	Name             string `json:"name"`
	Transition       string `json:"transition"`
	HeartbeatTimeout int    `json:"heartbeat_timeout"`
	DefaultResult    string `json:"default_result"`
}

// Target tracking metrics (spec §13.5).
const (
	MetricActiveFlowCountPerTarget = "ActiveFlowCountPerTarget"
	MetricNewFlowCountPerTarget    = "NewFlowCountPerTarget"
)

// TargetTracking is a target tracking scaling policy.
type TargetTracking struct {
	Metric           string  `json:"metric"`
	TargetValue      float64 `json:"target_value"`
	ScaleOutCooldown int     `json:"scale_out_cooldown"`
	ScaleInCooldown  int     `json:"scale_in_cooldown"`
	DisableScaleIn   bool    `json:"disable_scale_in,omitempty"`
}

// validateASGs checks the groups against the VPCs and GWLBs.
func (s *Snapshot) validateASGs(bad func(string, ...any)) {
	names := map[string]bool{}
	for _, g := range s.AutoScalingGroups {
		if g.Name == "" || names[g.Name] {
			bad("auto scaling group %q: empty or repeated name", g.Name)
		}
		names[g.Name] = true
		var vpc *VPC
		for i := range s.VPCs {
			if s.VPCs[i].Name == g.VPC {
				vpc = &s.VPCs[i]
			}
		}
		if vpc == nil {
			bad("auto scaling group %q: no vpc %q", g.Name, g.VPC)
			continue
		}
		if len(g.Subnets) == 0 {
			bad("auto scaling group %q: no subnet", g.Name)
		}
		for _, sn := range g.Subnets {
			found := false
			for _, vs := range vpc.Subnets {
				found = found || (vs.Name == sn.Name && vs.AZ == sn.AZ)
			}
			if !found {
				bad("auto scaling group %q: no subnet %q in az %q of vpc %q", g.Name, sn.Name, sn.AZ, g.VPC)
			}
		}
		if g.Min < 0 || g.Min > g.Max || g.Desired < g.Min || g.Desired > g.Max {
			bad("auto scaling group %q: min %d, desired %d, max %d are not in order", g.Name, g.Min, g.Desired, g.Max)
		}
		if g.HealthCheckGracePeriod < 0 || g.HealthCheckGracePeriod > MaxTiming {
			bad("auto scaling group %q: health_check_grace_period %d outside 0-%d", g.Name, g.HealthCheckGracePeriod, MaxTiming)
		}
		if g.HealthCheckType != "EC2" && g.HealthCheckType != "ELB" {
			bad("auto scaling group %q: health_check_type %q is not EC2 or ELB", g.Name, g.HealthCheckType)
		}
		for _, tg := range g.TargetGroups {
			found := false
			for _, lb := range s.GWLBs {
				found = found || (lb.Name == tg.GWLB && lb.TargetGroup.Name == tg.Name && lb.VPC == g.VPC)
			}
			if !found {
				bad("auto scaling group %q: no target group %q of a gwlb %q in vpc %q", g.Name, tg.Name, tg.GWLB, g.VPC)
			}
		}
		for _, h := range g.LifecycleHooks {
			if (h.Transition != TransitionLaunching && h.Transition != TransitionTerminating) ||
				(h.DefaultResult != ResultContinue && h.DefaultResult != ResultAbandon) ||
				h.HeartbeatTimeout < 1 || h.HeartbeatTimeout > MaxTiming {
				bad("auto scaling group %q: lifecycle hook %q: transition %q, default_result %q, heartbeat_timeout %d", g.Name, h.Name, h.Transition, h.DefaultResult, h.HeartbeatTimeout)
			}
		}
		if tt := g.TargetTracking; tt != nil {
			if tt.Metric != MetricActiveFlowCountPerTarget && tt.Metric != MetricNewFlowCountPerTarget {
				bad("auto scaling group %q: unknown metric %q", g.Name, tt.Metric)
			}
			if !(tt.TargetValue > 0) || math.IsInf(tt.TargetValue, 0) {
				bad("auto scaling group %q: target_value %v must be a number above 0", g.Name, tt.TargetValue)
			}
			if tt.ScaleInCooldown < 0 || tt.ScaleOutCooldown < 0 || tt.ScaleInCooldown > MaxTiming || tt.ScaleOutCooldown > MaxTiming {
				bad("auto scaling group %q: cooldowns outside 0-%d", g.Name, MaxTiming)
			}
			if len(g.TargetGroups) == 0 {
				bad("auto scaling group %q: target tracking needs target groups", g.Name)
			}
		}
	}
}
