package topology

import "time"

// AutoScalingGroup is a resolved Auto Scaling group (spec §13). Its
// instances are not nodes of the resolved lab: the emulator's controller
// launches them at run time, named <group>-<n>, each a node made from
// LaunchTemplate in one of Subnets.
type AutoScalingGroup struct {
	Name string `json:"name"`
	VPC  string `json:"vpc"`
	// Subnets are the file's, in file order, one per AZ.
	Subnets        []ASGSubnet    `json:"subnets"`
	LaunchTemplate LaunchTemplate `json:"launch_template"`
	Min            int            `json:"min"`
	Max            int            `json:"max"`
	Desired        int            `json:"desired"`
	// HealthCheckGracePeriod is nominal (lab time).
	HealthCheckGracePeriod time.Duration `json:"health_check_grace_period"`
	HealthCheckType        string        `json:"health_check_type"` // EC2 or ELB
	// TargetGroups are the target groups instances are registered in,
	// each with its GWLB, in file order.
	TargetGroups   []ASGTargetGroup `json:"target_groups"`
	LifecycleHooks []LifecycleHook  `json:"lifecycle_hooks"`
	TargetTracking *TargetTracking  `json:"target_tracking,omitempty"`
}

// ASGSubnet is a subnet of an Auto Scaling group with its AZ.
type ASGSubnet struct {
	Name string `json:"name"`
	AZ   string `json:"az"`
}

// LaunchTemplate is what each instance of a group runs.
type LaunchTemplate struct {
	SourceDestCheck bool       `json:"source_dest_check"`
	Run             *Run       `json:"run,omitempty"`
	Container       *Container `json:"container,omitempty"`
}

// ASGTargetGroup is a target group a group registers its instances in.
type ASGTargetGroup struct {
	Name string `json:"name"`
	GWLB string `json:"gwlb"`
}

// LifecycleHook is a resolved lifecycle hook, sorted by name.
type LifecycleHook struct {
	Name             string        `json:"name"`
	Transition       string        `json:"transition"` // launching or terminating
	HeartbeatTimeout time.Duration `json:"heartbeat_timeout"`
	DefaultResult    string        `json:"default_result"` // CONTINUE or ABANDON
}

// TargetTracking is a resolved target tracking policy.
type TargetTracking struct {
	Metric           string        `json:"metric"`
	TargetValue      float64       `json:"target_value"`
	ScaleOutCooldown time.Duration `json:"scale_out_cooldown"`
	ScaleInCooldown  time.Duration `json:"scale_in_cooldown"`
	DisableScaleIn   bool          `json:"disable_scale_in,omitempty"`
}

// AutoScalingGroup returns the group named name.
func (l *Lab) AutoScalingGroup(name string) (*AutoScalingGroup, bool) {
	return find(l.AutoScalingGroups, name, func(g *AutoScalingGroup) string { return g.Name })
}

// ASGNode returns the node an instance of group g named name, in subnet
// subnet with address addr, would be: what `node add --asg` makes.
func (l *Lab) ASGNode(g *AutoScalingGroup, name, subnet string) (Node, bool) {
	v, ok := l.VPC(g.VPC)
	if !ok {
		return Node{}, false
	}
	s, ok := v.Subnet(subnet)
	if !ok {
		return Node{}, false
	}
	return Node{
		Name: name, Kind: NodeInstance, Netns: NetnsName(l.Name, name), VPC: v.Name, Subnet: s.Name, AZ: s.AZ,
		Interface: Interface{Name: InterfaceName, Gateway: s.Router, GatewayMAC: s.RouterMAC, MTU: VPCMTU,
			SourceDestCheck: g.LaunchTemplate.SourceDestCheck},
		Run: g.LaunchTemplate.Run, Container: g.LaunchTemplate.Container,
	}, true
}
