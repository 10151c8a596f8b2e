package topology

// AutoScalingGroupSpec is one EC2 Auto Scaling group of appliances (spec
// §13): instances launched from a template into its subnets, registered in
// GWLB target groups, replaced when unhealthy, and scaled by desired
// capacity or a target tracking policy.
type AutoScalingGroupSpec struct {
	VPC                    string                       `yaml:"vpc" desc:"VPC of the group's instances." schema:"required"`
	Subnets                []string                     `yaml:"subnets" desc:"Subnets instances launch into, one per AZ; a new instance goes to the AZ with the fewest (spec §13.1)." schema:"required,minItems=1"`
	LaunchTemplate         LaunchTemplateSpec           `yaml:"launch_template" desc:"What each instance runs: a node body, as an instance's run or container section." schema:"required"`
	Min                    *int                         `yaml:"min" desc:"Least instances the group keeps (MinSize)." schema:"required,min=0,max=100"`
	Max                    *int                         `yaml:"max" desc:"Most instances the group keeps (MaxSize), at least min." schema:"required,min=0,max=100"`
	Desired                *int                         `yaml:"desired,omitempty" desc:"Instances the group starts with (DesiredCapacity), between min and max; omitted: min."`
	HealthCheckGracePeriod *int                         `yaml:"health_check_grace_period,omitempty" desc:"Seconds after an instance is InService before a failed health check replaces it." schema:"default=300,min=0,max=86400"`
	HealthCheckType        string                       `yaml:"health_check_type,omitempty" desc:"EC2: an instance is unhealthy when its node or program is gone; ELB: also when a target group's health checks find it unhealthy." schema:"enum=EC2|ELB,default=EC2"`
	TargetGroups           []string                     `yaml:"target_groups,omitempty" desc:"GWLB target groups (by target group name, <gwlb>-tg when the GWLB's is omitted) each InService instance is registered in."`
	LifecycleHooks         map[string]LifecycleHookSpec `yaml:"lifecycle_hooks,omitempty" desc:"Lifecycle hooks, by name: an instance waits in Pending:Wait or Terminating:Wait until complete-lifecycle-action or the heartbeat timeout."`
	TargetTracking         *TargetTrackingSpec          `yaml:"target_tracking,omitempty" desc:"A target tracking scaling policy on a GWLB metric, evaluated on the lab clock."`
}

// LaunchTemplateSpec is what an Auto Scaling group's instances run: the body
// of a topology instance without its placement.
type LaunchTemplateSpec struct {
	SourceDestCheck *bool          `yaml:"source_dest_check,omitempty" desc:"EC2 source/destination check of each instance." schema:"default=true"`
	Run             *RunSpec       `yaml:"run,omitempty" desc:"What runs in each instance; omitted: nothing."`
	Container       *ContainerSpec `yaml:"container,omitempty" desc:"Run each instance as a Docker container of this image."`
}

// LifecycleHookSpec is one lifecycle hook of an Auto Scaling group.
type LifecycleHookSpec struct {
	Transition       string `yaml:"transition" desc:"launching (instance_launching: Pending:Wait) or terminating (instance_terminating: Terminating:Wait)." schema:"required,enum=launching|terminating"`
	HeartbeatTimeout *int   `yaml:"heartbeat_timeout,omitempty" desc:"Seconds an instance waits for complete-lifecycle-action before default_result applies: AWS 30-7200." schema:"default=3600"`
	DefaultResult    string `yaml:"default_result,omitempty" desc:"Result on timeout: CONTINUE or ABANDON (a launching instance is then terminated; a terminating one is terminated either way)." schema:"enum=CONTINUE|ABANDON,default=ABANDON"`
}

// TargetTrackingSpec is a target tracking scaling policy.
type TargetTrackingSpec struct {
	Metric           string   `yaml:"metric" desc:"ActiveFlowCountPerTarget: the GWLBs' ActiveFlowCount over the group's InService instances; NewFlowCountPerTarget: their new flows per lab minute over the same." schema:"required,enum=ActiveFlowCountPerTarget|NewFlowCountPerTarget"`
	TargetValue      *float64 `yaml:"target_value" desc:"The value the policy keeps the metric at (greater than 0)." schema:"required"`
	ScaleOutCooldown *int     `yaml:"scale_out_cooldown,omitempty" desc:"Lab seconds after a scale out before the policy scales out again." schema:"default=300,min=0,max=86400"`
	ScaleInCooldown  *int     `yaml:"scale_in_cooldown,omitempty" desc:"Lab seconds after a scaling activity before the policy scales in." schema:"default=300,min=0,max=86400"`
	DisableScaleIn   bool     `yaml:"disable_scale_in,omitempty" desc:"The policy only scales out." schema:"default=false"`
}
