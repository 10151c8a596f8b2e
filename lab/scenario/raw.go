package scenario

import "github.com/gwlb-lab/gwlb-lab/lab/topology"

// The raw types: the scenario file exactly as written. Tags as in
// lab/topology's raw.go: `yaml` names the key, `desc` describes it in the
// JSON schema, `schema` adds required, enum, default and bounds. Struct
// names end in Spec and become the schema's $defs without it; none may
// share a name with a topology type (TestSchemaHasEveryField checks).
// Durations are strings here ("30s", "1m30s"): parsing them is
// validation's job, so that a bad one is reported with its path.

// Scenario is the root of a scenario file.
type Scenario struct {
	Name        string `yaml:"name" desc:"Short name of the scenario, shown in reports." schema:"required"`
	Description string `yaml:"description,omitempty" desc:"What the scenario shows: the setup, the mistake or the behaviour, and what the expectations check."`
	// Exactly one of Topology, TopologyFile and TopologyBuiltin.
	Topology        *topology.Topology `yaml:"topology,omitempty" desc:"The lab, written inline as a topology file would be (docs/topology.md). Exactly one of topology, topology_file and topology_builtin."`
	TopologyFile    string             `yaml:"topology_file,omitempty" desc:"The lab's topology file, relative to the scenario file."`
	TopologyBuiltin string             `yaml:"topology_builtin,omitempty" desc:"A lab shipped in the binary: default (scenarios/default.yaml) or plain-vpc." schema:"enum=default|plain-vpc"`
	Steps           []StepSpec         `yaml:"steps" desc:"What happens, in order: each step is exactly one of traffic, fault, route, asg, wait and expect." schema:"required,minItems=1"`
}

// StepSpec is one step: exactly one of its fields.
type StepSpec struct {
	Traffic *TrafficSpec      `yaml:"traffic,omitempty" desc:"Send traffic between nodes and record how it went; the step itself never fails, expectations judge it."`
	Fault   *FaultSpec        `yaml:"fault,omitempty" desc:"Break (or mend) something: a node's program, a target's health checks or registration, a node's link."`
	Route   *RouteEditSpec    `yaml:"route,omitempty" desc:"Edit a route table of the running lab."`
	ASG     *ASGActionSpec    `yaml:"asg,omitempty" desc:"Set an Auto Scaling group's desired capacity (gwlb-lab asg set-desired); the group launches or terminates instances from then on (spec §13)."`
	Wait    *WaitSpec         `yaml:"wait,omitempty" desc:"Wait for a target state, for flows, for background traffic, or for some lab time."`
	Expect  []ExpectationSpec `yaml:"expect,omitempty" desc:"Expectations checked now, each exactly one of reaches, blocked, traverses, bypasses, symmetric, one_target, drop, target and asg. Counters are compared with their values at the previous expect step (or the start of the steps)." schema:"minItems=1"`
}

// TrafficSpec sends traffic: Flows connections (or UDP flows, or ICMP echo
// exchanges) from a node to an address, each carrying Size bytes or lasting
// Duration, one request and its answer when neither is set.
type TrafficSpec struct {
	Name       string `yaml:"name,omitempty" desc:"Label that later expectations and waits use (traffic: NAME); unique within the scenario."`
	From       string `yaml:"from" desc:"The node that starts the traffic: an instance or an internet host." schema:"required"`
	To         string `yaml:"to" desc:"An address (IPv4 or IPv6), or a node name: an instance (its public address when from is an internet host, else its private one) or an internet host." schema:"required"`
	Protocol   string `yaml:"protocol,omitempty" desc:"http (a GET answered by the echo server), tcp, udp or icmp (echo)." schema:"enum=http|tcp|udp|icmp,default=http"`
	Port       *int   `yaml:"port,omitempty" desc:"Destination port (not for icmp)." schema:"default=80,min=1,max=65535"`
	Flows      *int   `yaml:"flows,omitempty" desc:"How many flows (connections; new source ports) to open, one after the other." schema:"default=1,min=1,max=10000"`
	Size       *int   `yaml:"size,omitempty" desc:"Bytes each flow carries to the destination; not with duration." schema:"min=1,max=1073741824"`
	Duration   string `yaml:"duration,omitempty" desc:"How long each flow lasts, sending now and then on one connection (a Go duration, e.g. 10s); not with size."`
	Interval   string `yaml:"interval,omitempty" desc:"With duration: the time between two sends on a flow (wall time, e.g. 5s); default 1s. A gap longer than the GWLB's idle timeout (on the lab clock) lets the flow expire mid-connection."`
	Background bool   `yaml:"background,omitempty" desc:"Run while the next steps go on; wait: {traffic: NAME} waits for it to end (the scenario's end does too)." schema:"default=false"`
}

// FaultSpec is one fault: exactly one of its fields. Node names are lab
// nodes; targets are registered targets, by instance name or address
// (GWLB/TARGET when a target is registered with more than one GWLB).
type FaultSpec struct {
	NodeStop    string    `yaml:"node_stop,omitempty" desc:"Stop the node's program (gwlb-lab node stop); its link stays up."`
	NodeStart   string    `yaml:"node_start,omitempty" desc:"Start the node's program again and wait until it is ready."`
	NodeRestart string    `yaml:"node_restart,omitempty" desc:"Restart the node's program."`
	NodePause   string    `yaml:"node_pause,omitempty" desc:"Freeze the node's processes: they stop answering, connections stay open."`
	NodeUnpause string    `yaml:"node_unpause,omitempty" desc:"Thaw a paused node."`
	HealthFail  string    `yaml:"health_fail,omitempty" desc:"Make every health check of the target fail until health_clear; it turns unhealthy after the unhealthy threshold, like a real failure."`
	HealthClear string    `yaml:"health_clear,omitempty" desc:"Let the target's health checks run for real again."`
	Deregister  string    `yaml:"deregister,omitempty" desc:"Deregister the target: draining for the deregistration delay, then unused."`
	Register    string    `yaml:"register,omitempty" desc:"Register a target of the topology again (after deregister): initial, then healthy once its checks pass."`
	Link        *LinkSpec `yaml:"link,omitempty" desc:"Impair a node's link (its eth0), done by the emulator."`
}

// LinkSpec impairs a node's link; fields left out are not changed.
type LinkSpec struct {
	Node   string   `yaml:"node" desc:"The lab node whose link is impaired." schema:"required"`
	Down   *bool    `yaml:"down,omitempty" desc:"true: every frame to and from the node is dropped; false: the link is up again."`
	Loss   *float64 `yaml:"loss,omitempty" desc:"Percentage of frames lost, 0 to 100 (0: none)." schema:"min=0,max=100"`
	Delay  string   `yaml:"delay,omitempty" desc:"Fixed delay added to frames (a Go duration, e.g. 20ms; 0s: none)."`
	Jitter string   `yaml:"jitter,omitempty" desc:"Random variation of the delay, at most the delay (needs delay)."`
}

// RouteEditSpec edits a route table at runtime.
type RouteEditSpec struct {
	Table       string `yaml:"table" desc:"The route table: its name, or VPC/TABLE when more than one VPC has a table of that name." schema:"required"`
	Action      string `yaml:"action" desc:"add a route, replace the route of a destination, or delete it." schema:"required,enum=add|replace|delete"`
	Destination string `yaml:"destination" desc:"Destination prefix, e.g. 0.0.0.0/0." schema:"required"`
	Target      string `yaml:"target,omitempty" desc:"Route target, as in a topology file (local, blackhole, or a gateway, endpoint or instance of the table's VPC); not for delete."`
}

// ASGActionSpec sets a group's desired capacity.
type ASGActionSpec struct {
	Name    string `yaml:"name" desc:"The Auto Scaling group, as the topology names it." schema:"required"`
	Desired *int   `yaml:"desired" desc:"The desired capacity, within the group's min and max." schema:"required,min=0"`
}

// WaitSpec waits: exactly one of target (with state), flows, traffic,
// asg (with in_service) and duration.
type WaitSpec struct {
	Target    string `yaml:"target,omitempty" desc:"A registered target, by instance name or address (GWLB/TARGET when ambiguous): wait until every GWLB node that checks it shows state."`
	State     string `yaml:"state,omitempty" desc:"The target state waited for (with target)." schema:"enum=initial|healthy|unhealthy|draining|unused"`
	ASG       string `yaml:"asg,omitempty" desc:"An Auto Scaling group: wait until exactly in_service of its instances are InService (and, with healthy, healthy in every target group of the group)."`
	InService *int   `yaml:"in_service,omitempty" desc:"How many InService instances of the group the wait is for (with asg)." schema:"min=0"`
	Healthy   bool   `yaml:"healthy,omitempty" desc:"With asg: also wait until each InService instance is healthy in every target group of the group, so new flows reach it." schema:"default=false"`
	Flows     *int   `yaml:"flows,omitempty" desc:"Wait until the GWLB nodes hold at least this many flows together." schema:"min=1"`
	Traffic   string `yaml:"traffic,omitempty" desc:"Wait until the background traffic of this name has ended."`
	Duration  string `yaml:"duration,omitempty" desc:"Wait this long on the lab clock (lab.time_scale makes it shorter in wall time), e.g. 400s to outlast the TCP idle timeout."`
	Timeout   string `yaml:"timeout,omitempty" desc:"Fail the scenario when the wait lasts longer than this (wall time; not with duration)." schema:"default=60s"`
}

// ExpectationSpec is one expectation: exactly one of its fields.
type ExpectationSpec struct {
	Reaches   *FlowRefSpec     `yaml:"reaches,omitempty" desc:"The traffic got its answers: every flow of the named traffic, or a new probe from from to to."`
	Blocked   *FlowRefSpec     `yaml:"blocked,omitempty" desc:"The traffic got no answer: no flow of the named traffic, or a new probe from from to to, was answered."`
	Traverses *TraversesSpec   `yaml:"traverses,omitempty" desc:"The traffic went through an appliance, in exactly the directions listed."`
	Bypasses  *FlowRefSpec     `yaml:"bypasses,omitempty" desc:"No appliance saw the traffic in either direction: it was not inspected."`
	Symmetric *FlowRefSpec     `yaml:"symmetric,omitempty" desc:"Both directions of each flow went through the same GWLB node and the same appliance."`
	OneTarget *FlowRefSpec     `yaml:"one_target,omitempty" desc:"Every flow of the traffic went to one and the same appliance."`
	Drop      *DropSpec        `yaml:"drop,omitempty" desc:"A drop counter of the emulator (fabric or GWLB node) rose, or stayed still, or is zero."`
	Target    *TargetStateSpec `yaml:"target,omitempty" desc:"A target is in a state now, on every GWLB node that checks it."`
	ASG       *ASGExpectSpec   `yaml:"asg,omitempty" desc:"An Auto Scaling group's capacity and instances now, or where a traffic's flows went: to its instances or not."`
}

// ASGExpectSpec is an expectation on an Auto Scaling group: at least one
// of desired, in_service and traffic.
type ASGExpectSpec struct {
	Name      string `yaml:"name" desc:"The Auto Scaling group, as the topology names it." schema:"required"`
	Desired   *int   `yaml:"desired,omitempty" desc:"The group's desired capacity is this." schema:"min=0"`
	InService *int   `yaml:"in_service,omitempty" desc:"Exactly this many of its instances are InService." schema:"min=0"`
	Traffic   string `yaml:"traffic,omitempty" desc:"The label of an earlier traffic step: flows says how many of its flows the GWLB sent to the group's instances."`
	Flows     string `yaml:"flows,omitempty" desc:"With traffic: all (every flow went to an instance of the group), some (at least one did) or none (none did, e.g. flows that started before a scale out stay where they are)." schema:"enum=all|some|none,default=some"`
}

// FlowRefSpec names traffic: a traffic step's label, or from and to (with
// protocol and port), which for reaches and blocked sends a new probe and
// otherwise selects the flows between them.
type FlowRefSpec struct {
	Traffic  string `yaml:"traffic,omitempty" desc:"The label of an earlier traffic step; or give from and to."`
	From     string `yaml:"from,omitempty" desc:"Source node (with to, instead of traffic)."`
	To       string `yaml:"to,omitempty" desc:"Destination address or node (with from)."`
	Protocol string `yaml:"protocol,omitempty" desc:"Protocol (with from and to)." schema:"enum=http|tcp|udp|icmp,default=http"`
	Port     *int   `yaml:"port,omitempty" desc:"Destination port (with from and to; not for icmp)." schema:"default=80,min=1,max=65535"`
	Flows    string `yaml:"flows,omitempty" desc:"With traffic: all (every flow of it must meet the expectation) or some (at least one must)." schema:"enum=all|some,default=all"`
}

// TraversesSpec: the traffic went through an appliance.
type TraversesSpec struct {
	Traffic    string   `yaml:"traffic,omitempty" desc:"The label of an earlier traffic step; or give from and to."`
	From       string   `yaml:"from,omitempty" desc:"Source node (with to, instead of traffic)."`
	To         string   `yaml:"to,omitempty" desc:"Destination address or node (with from)."`
	Protocol   string   `yaml:"protocol,omitempty" desc:"Protocol (with from and to)." schema:"enum=http|tcp|udp|icmp,default=http"`
	Port       *int     `yaml:"port,omitempty" desc:"Destination port (with from and to; not for icmp)." schema:"default=80,min=1,max=65535"`
	Flows      string   `yaml:"flows,omitempty" desc:"With traffic: all (every flow of it must have gone through the appliance so) or some (at least one)." schema:"enum=all|some,default=all"`
	Appliance  string   `yaml:"appliance,omitempty" desc:"The appliance (a target instance) that must have seen the traffic; omitted: any target."`
	Directions []string `yaml:"directions,omitempty" desc:"Exactly the directions the appliance saw: forward (from the side that started the flow), return, or both (the same as [forward, return]). Default: both." schema:"minItems=1"`
}

// DropSpec is an expectation on a drop counter: exactly one of rose and
// zero.
type DropSpec struct {
	Reason string `yaml:"reason" desc:"The drop reason, as gwlb-lab status names it (e.g. tcp_no_flow, routing_loop, source_check)." schema:"required"`
	Rose   *bool  `yaml:"rose,omitempty" desc:"true: the counter rose since the previous expect step (or the start of the steps); false: it did not."`
	Zero   *bool  `yaml:"zero,omitempty" desc:"true: the counter is zero (nothing was ever dropped for this reason); false: it is not."`
}

// TargetStateSpec is an expectation on a target's state.
type TargetStateSpec struct {
	Name  string `yaml:"name" desc:"A registered target, by instance name or address (GWLB/TARGET when ambiguous)." schema:"required"`
	State string `yaml:"state" desc:"The state expected." schema:"required,enum=initial|healthy|unhealthy|draining|unused"`
}
