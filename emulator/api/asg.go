package api

import (
	"net/url"
	"time"
)

// Auto Scaling groups (spec §13), run by the emulator's controller.

// PathASGs lists the groups (GET: []ASG).
const PathASGs = "/v1/asgs"

// ASGPath is the path of a group's verb: "desired" (POST DesiredRequest:
// ASG) or "lifecycle-action" (POST LifecycleActionRequest: ASG).
func ASGPath(name, verb string) string {
	return PathASGs + "/" + url.PathEscape(name) + "/" + verb
}

// Lifecycle states of an instance of a group (spec §13.2).
const (
	LifecyclePending            = "Pending"
	LifecyclePendingWait        = "Pending:Wait"
	LifecyclePendingProceed     = "Pending:Proceed"
	LifecycleInService          = "InService"
	LifecycleTerminating        = "Terminating"
	LifecycleTerminatingWait    = "Terminating:Wait"
	LifecycleTerminatingProceed = "Terminating:Proceed"
	LifecycleTerminated         = "Terminated"
)

// Reason codes of the group events and of an instance's Reason.
const (
	ASGReasonDesired      = "desired_capacity"     // set-desired changed the capacity
	ASGReasonScaleOut     = "target_tracking_high" // the policy's high alarm
	ASGReasonScaleIn      = "target_tracking_low"  // the policy's low alarm
	ASGReasonCapacity     = "capacity"             // launched or terminated to match the desired capacity
	ASGReasonUnhealthyEC2 = "unhealthy_ec2"        // the instance's node or program is gone
	ASGReasonUnhealthyELB = "unhealthy_elb"        // a target group found it unhealthy
	ASGReasonReplacement  = "replacement"          // launched in place of an unhealthy instance
	ASGReasonLaunchFailed = "launch_failed"        // the lab could not make the node
	// ASGReasonLaunchTimeout: making the node took longer than the
	// launch timeout; ASGReasonPendingUnhealthy: its node or program was
	// gone before the instance was InService. Both are launch failures:
	// the group launches another (spec §13.4).
	ASGReasonLaunchTimeout    = "launch_timeout"
	ASGReasonPendingUnhealthy = "unhealthy_while_pending"
	ASGReasonHookContinue     = "lifecycle_continue" // complete-lifecycle-action CONTINUE
	ASGReasonHookAbandon      = "lifecycle_abandon"  // complete-lifecycle-action ABANDON
	ASGReasonHookTimeout      = "lifecycle_timeout"  // a hook's heartbeat timeout: its default result
	ASGReasonDrained          = "drained"            // its targets finished draining
	ASGReasonRegistered       = "registered"         // registered in its target groups
)

// ASG is a group as the controller sees it.
type ASG struct {
	Name                   string   `json:"name"`
	VPC                    string   `json:"vpc"`
	Min                    int      `json:"min"`
	Max                    int      `json:"max"`
	Desired                int      `json:"desired"`
	HealthCheckType        string   `json:"health_check_type"`
	HealthCheckGracePeriod int      `json:"health_check_grace_period"` // seconds
	TargetGroups           []string `json:"target_groups"`
	// Instances are the group's instances not yet terminated, by number;
	// Terminated the last ones terminated (at most 20), newest last.
	Instances  []ASGInstance `json:"instances"`
	Terminated []ASGInstance `json:"terminated,omitempty"`
	Policy     *ASGPolicy    `json:"policy,omitempty"`
}

// ASGInstance is one instance of a group.
type ASGInstance struct {
	Name   string `json:"name"`
	Subnet string `json:"subnet"`
	AZ     string `json:"az"`
	IP     string `json:"ip,omitempty"`
	// State is the lifecycle state; Health the group's verdict (Healthy or
	// Unhealthy); Reason why it was launched or is terminating.
	State  string `json:"state"`
	Health string `json:"health"`
	Reason string `json:"reason,omitempty"`
	// Targets is its state in each target group (initial, healthy,
	// unhealthy, draining, unused), by target group name.
	Targets map[string]string `json:"targets,omitempty"`
	// WaitingHooks are the lifecycle hooks it waits for, each until its
	// heartbeat timeout (lab time).
	WaitingHooks []ASGHookWait `json:"waiting_hooks,omitempty"`
	Launched     time.Time     `json:"launched"`
	InService    time.Time     `json:"in_service,omitzero"`
}

// ASGHookWait is a lifecycle hook an instance waits for.
type ASGHookWait struct {
	Hook     string    `json:"hook"`
	Deadline time.Time `json:"deadline"`
	Default  string    `json:"default_result"`
}

// ASGPolicy is the state of a group's target tracking policy.
type ASGPolicy struct {
	Metric      string  `json:"metric"`
	TargetValue float64 `json:"target_value"`
	// Value is the last datapoint (per InService instance); HighPoints and
	// LowPoints count the consecutive datapoints above the target and below
	// 90% of it (3 and 15 make the alarms fire).
	Value          float64   `json:"value"`
	HighPoints     int       `json:"high_points"`
	LowPoints      int       `json:"low_points"`
	LastScaleOut   time.Time `json:"last_scale_out,omitzero"`
	LastScaleIn    time.Time `json:"last_scale_in,omitzero"`
	DisableScaleIn bool      `json:"disable_scale_in,omitempty"`
}

// DesiredRequest sets a group's desired capacity.
type DesiredRequest struct {
	Desired int `json:"desired"`
}

// LifecycleActionRequest completes a lifecycle hook's wait for an instance
// (CompleteLifecycleAction): Result is CONTINUE or ABANDON.
type LifecycleActionRequest struct {
	Instance string `json:"instance"`
	Hook     string `json:"hook"`
	Result   string `json:"result"`
}
