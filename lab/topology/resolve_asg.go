package topology

import (
	"cmp"
	"slices"
	"time"
)

// autoScalingGroups resolves the Auto Scaling groups, sorted by name.
func (r *resolver) autoScalingGroups() []AutoScalingGroup {
	c := r.c
	out := []AutoScalingGroup{}
	for _, an := range sorted(c.t.AutoScalingGroups) {
		spec := c.t.AutoScalingGroups[an]
		v := c.vpcs[spec.VPC]
		g := AutoScalingGroup{
			Name: an, VPC: spec.VPC, Subnets: []ASGSubnet{},
			LaunchTemplate: LaunchTemplate{
				SourceDestCheck: spec.LaunchTemplate.SourceDestCheck == nil || *spec.LaunchTemplate.SourceDestCheck,
				Run:             resolveRun(spec.LaunchTemplate.Run, c.f.Name),
				Container:       resolveContainer(spec.LaunchTemplate.Container),
			},
			Min: *spec.Min, Max: *spec.Max, Desired: intOr(spec.Desired, *spec.Min),
			HealthCheckGracePeriod: time.Duration(intOr(spec.HealthCheckGracePeriod, DefaultHealthCheckGracePeriod)) * time.Second,
			HealthCheckType:        cmp.Or(spec.HealthCheckType, DefaultHealthCheckType),
			TargetGroups:           []ASGTargetGroup{},
			LifecycleHooks:         []LifecycleHook{},
		}
		for _, sn := range spec.Subnets {
			g.Subnets = append(g.Subnets, ASGSubnet{Name: sn, AZ: v.subnets[sn].az})
		}
		for _, tn := range spec.TargetGroups {
			g.TargetGroups = append(g.TargetGroups, ASGTargetGroup{Name: tn, GWLB: c.tgNames[tn]})
		}
		for _, hn := range sorted(spec.LifecycleHooks) {
			h := spec.LifecycleHooks[hn]
			g.LifecycleHooks = append(g.LifecycleHooks, LifecycleHook{
				Name: hn, Transition: h.Transition,
				HeartbeatTimeout: time.Duration(intOr(h.HeartbeatTimeout, DefaultHeartbeatTimeout)) * time.Second,
				DefaultResult:    cmp.Or(h.DefaultResult, DefaultLifecycleResult),
			})
		}
		if tt := spec.TargetTracking; tt != nil {
			g.TargetTracking = &TargetTracking{
				Metric: tt.Metric, TargetValue: *tt.TargetValue,
				ScaleOutCooldown: time.Duration(intOr(tt.ScaleOutCooldown, DefaultScalingCooldown)) * time.Second,
				ScaleInCooldown:  time.Duration(intOr(tt.ScaleInCooldown, DefaultScalingCooldown)) * time.Second,
				DisableScaleIn:   tt.DisableScaleIn,
			}
		}
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b AutoScalingGroup) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
