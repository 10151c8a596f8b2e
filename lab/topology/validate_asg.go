package topology

import (
	"cmp"
	"regexp"
	"slices"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
)

// Auto Scaling groups (spec §13).

const kindASG objKind = "auto scaling group"

// Lab limits and AWS's ranges for Auto Scaling groups.
const (
	// maxASGSize bounds max: every instance is a node (limitNodes).
	maxASGSize = 100
	// maxASGName leaves room for "-<n>" up to n = 999 in a 32-character
	// node name.
	maxASGName = 28

	minHeartbeatTimeout = 30
	maxHeartbeatTimeout = 7200

	// DefaultHealthCheckGracePeriod, DefaultHeartbeatTimeout and the
	// cooldowns are AWS's defaults, in seconds.
	DefaultHealthCheckGracePeriod = 300
	DefaultHealthCheckType        = "EC2"
	DefaultHeartbeatTimeout       = 3600
	DefaultLifecycleResult        = "ABANDON"
	DefaultScalingCooldown        = 300
)

// Target tracking metrics an Auto Scaling group can track (spec §13.5).
const (
	MetricActiveFlowCountPerTarget = config.MetricActiveFlowCountPerTarget
	MetricNewFlowCountPerTarget    = config.MetricNewFlowCountPerTarget
)

// asgNames adds the groups' names to the file's global names.
func (c *checker) asgNames(add func(name string, o object)) {
	for _, an := range keys(c, "autoscaling_groups", c.t.AutoScalingGroups) {
		p := childPath("autoscaling_groups", an)
		if c.checkName(p, "auto scaling group", an) && len(an) > maxASGName {
			c.errorf(p, "", "auto scaling group name %q is longer than %d characters: its instances are named <group>-<n> and a node name has at most 32", an, maxASGName)
		}
		add(an, object{kind: kindASG, path: p, vpc: c.t.AutoScalingGroups[an].VPC})
	}
}

// checkASGs checks every Auto Scaling group; it runs after the GWLBs, VPCs
// and names are known.
func (c *checker) checkASGs() {
	for _, an := range keys(c, "autoscaling_groups", c.t.AutoScalingGroups) {
		g := c.t.AutoScalingGroups[an]
		p := childPath("autoscaling_groups", an)
		instanceRE := regexp.MustCompile(`^` + regexp.QuoteMeta(an) + `-[0-9]+$`)
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for n := range c.objects {
				if !yield(n) {
					return
				}
			}
		}) {
			if instanceRE.MatchString(name) {
				c.specErrorf("§13.1", c.objects[name].path, "", "name %q is taken by the instances of auto scaling group %q (named %s-<n>): rename one", name, an, an)
			}
		}
		v, vok := c.vpcs[g.VPC]
		switch {
		case g.VPC == "":
			c.errorf(p, "vpc", "vpc is required")
		case !vok:
			c.errorf(p, "vpc", "vpc %q is not defined", g.VPC)
		}
		sp := childPath(p, "subnets")
		if len(g.Subnets) == 0 {
			c.errorf(p, "subnets", "subnets is required: at least one subnet (one per AZ) to launch instances into")
		}
		azs := map[string]string{}
		for i, sn := range g.Subnets {
			if !vok {
				break
			}
			s, ok := v.subnets[sn]
			if !ok {
				c.errorf(indexPath(sp, i), "", "subnet %q is not defined in vpc %q", sn, g.VPC)
				continue
			}
			if prev, dup := azs[s.az]; dup {
				c.specErrorf("§13.1", indexPath(sp, i), "", "subnet %q is in az %q like subnet %q: list one subnet per AZ", sn, s.az, prev)
				continue
			}
			azs[s.az] = sn
		}
		c.checkASGSize(p, g)
		c.bounded(p, "health_check_grace_period", g.HealthCheckGracePeriod, 0, maxTiming)
		c.enum(p, "health_check_type", g.HealthCheckType, "EC2", "ELB")
		lt := childPath(p, "launch_template")
		if g.LaunchTemplate.Run != nil {
			c.checkRun(childPath(lt, "run"), g.LaunchTemplate.Run)
		}
		c.checkContainer(childPath(lt, "container"), g.LaunchTemplate.Container)
		c.checkTunnelContainer(lt, g.LaunchTemplate.Run, g.LaunchTemplate.Container)
		tp := childPath(p, "target_groups")
		seen := map[string]bool{}
		for i, tn := range g.TargetGroups {
			gn, ok := c.tgNames[tn]
			switch {
			case !ok:
				c.errorf(indexPath(tp, i), "", "target group %q is not defined: name the target_group.name of a GWLB (<gwlb>-tg when it has none)", tn)
				continue
			case seen[tn]:
				c.errorf(indexPath(tp, i), "", "target group %q is listed twice", tn)
				continue
			}
			seen[tn] = true
			gi := c.gwlbs[gn]
			if gi == nil || !vok {
				continue
			}
			if gi.vpc != g.VPC {
				c.specErrorf("§13.3", indexPath(tp, i), "", "target group %q belongs to GWLB %q in vpc %q: its targets must be in that vpc, not %q", tn, gn, gi.vpc, g.VPC)
				continue
			}
			for _, sn := range g.Subnets {
				if s, ok := v.subnets[sn]; ok {
					if _, enabled := gi.azs[s.az]; !enabled {
						c.warnf("§4.2", indexPath(tp, i), "", "instances launched in az %q (subnet %q) stay unused by GWLB %q, which does not enable that az (Target.NotInUse, cross-zone or not)", s.az, sn, gn)
					}
				}
			}
		}
		if g.HealthCheckType == "ELB" && len(g.TargetGroups) == 0 {
			c.warnf("§13.4", p, "health_check_type", "health_check_type ELB without target_groups: no load balancer checks the instances, so only EC2 status counts")
		}
		hp := childPath(p, "lifecycle_hooks")
		for _, hn := range keys(c, hp, g.LifecycleHooks) {
			h := g.LifecycleHooks[hn]
			p := childPath(hp, hn)
			c.checkName(p, "lifecycle hook", hn)
			if h.Transition == "" {
				c.errorf(p, "transition", "transition is required: launching or terminating")
			}
			c.enum(p, "transition", h.Transition, "launching", "terminating")
			c.intRange("§13.2", p, "heartbeat_timeout", h.HeartbeatTimeout, 1, minHeartbeatTimeout, maxHeartbeatTimeout)
			c.enum(p, "default_result", h.DefaultResult, "CONTINUE", "ABANDON")
		}
		if tt := g.TargetTracking; tt != nil {
			p := childPath(p, "target_tracking")
			if tt.Metric == "" {
				c.errorf(p, "metric", "metric is required: %s or %s", MetricActiveFlowCountPerTarget, MetricNewFlowCountPerTarget)
			}
			c.enum(p, "metric", tt.Metric, MetricActiveFlowCountPerTarget, MetricNewFlowCountPerTarget)
			if tt.TargetValue == nil || !(*tt.TargetValue > 0) {
				c.errorf(p, "target_value", "target_value is required and must be greater than 0")
			}
			c.bounded(p, "scale_out_cooldown", tt.ScaleOutCooldown, 0, maxTiming)
			c.bounded(p, "scale_in_cooldown", tt.ScaleInCooldown, 0, maxTiming)
			if len(g.TargetGroups) == 0 {
				c.specErrorf("§13.5", p, "metric", "metric %s is a GWLB metric: the group needs target_groups", cmp.Or(tt.Metric, "of the policy"))
			}
		}
	}
}

// checkASGSize checks min <= desired <= max.
func (c *checker) checkASGSize(p string, g AutoScalingGroupSpec) {
	ok := true
	for _, f := range []struct {
		name string
		v    *int
		req  bool
	}{{"min", g.Min, true}, {"max", g.Max, true}, {"desired", g.Desired, false}} {
		switch {
		case f.v == nil && f.req:
			c.errorf(p, f.name, "%s is required", f.name)
			ok = false
		case f.v != nil && (*f.v < 0 || *f.v > maxASGSize):
			c.errorf(p, f.name, "%s %d is outside 0-%d (every instance is a node of the lab)", f.name, *f.v, maxASGSize)
			ok = false
		}
	}
	if !ok {
		return
	}
	if *g.Min > *g.Max {
		c.specErrorf("§13.5", p, "max", "max %d is less than min %d", *g.Max, *g.Min)
		return
	}
	if d := g.Desired; d != nil && (*d < *g.Min || *d > *g.Max) {
		c.specErrorf("§13.5", p, "desired", "desired %d is outside min-max (%d-%d)", *d, *g.Min, *g.Max)
	}
}

// asgAZs returns the AZs of the subnets of every group that registers in
// target group tg: a GWLB whose zones they cover needs no listed target
// there.
func (c *checker) asgAZs(tg string) map[string]bool {
	out := map[string]bool{}
	for _, an := range keys(c, "autoscaling_groups", c.t.AutoScalingGroups) {
		g := c.t.AutoScalingGroups[an]
		v, ok := c.vpcs[g.VPC]
		if !ok || !slices.Contains(g.TargetGroups, tg) {
			continue
		}
		for _, sn := range g.Subnets {
			if s, ok := v.subnets[sn]; ok && s.az != "" {
				out[s.az] = true
			}
		}
	}
	return out
}
