package api

import (
	"net/url"
	"strconv"
	"time"
)

// PathEvents lists the emulator's events as JSON lines (Event), oldest
// first; see EventsQuery for its parameters.
const PathEvents = "/v1/events"

// Kinds of Event.
const (
	EventEmulatorStart    = "emulator_start"      // the emulator started (Detail: its configuration's lab)
	EventTargetState      = "target_state"        // a GWLB node's health verdict on a target changed
	EventTargetRegister   = "target_registered"   // a target was registered (Detail says if it is new to the group)
	EventTargetDeregister = "target_deregistered" // a target was deregistered: draining starts
	EventDrainingEnd      = "draining_ended"      // a deregistered target's delay ended: unused
	EventHealthForced     = "health_forced"       // health checks forced to fail, or cleared
	EventRouteEdit        = "route_edit"          // a route was added, replaced or deleted
	EventLink             = "link"                // a link's impairment changed
	EventEndpointAccept   = "endpoint_accepted"   // a pending endpoint connection was accepted
	EventNodeAdd          = "node_added"          // a node joined the running lab (Node: its name)
	EventNodeRemove       = "node_removed"        // a node added at run time left the lab
	EventASGCapacity      = "asg_capacity"        // a group's desired capacity changed (Detail: from -> to; Reason says why)
	EventASGLaunch        = "asg_launch"          // a group launched an instance (Node; Reason: capacity or replacement)
	EventASGState         = "asg_state"           // an instance's lifecycle state changed (State; Reason)
	EventASGUnhealthy     = "asg_unhealthy"       // a group found an instance unhealthy and replaces it (Reason)
)

// Event is one thing that happened in the emulator's control or health
// paths, with both clocks: LabTime is the lab's (time_scale applies), Time
// the wall clock's. Seq numbers events from 1 in the order they happened.
type Event struct {
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	LabTime time.Time `json:"lab_time"`
	// LabSeconds is the lab time since the emulator started, in seconds.
	LabSeconds float64 `json:"lab_seconds"`
	Kind       string  `json:"kind"`
	ASG        string  `json:"asg,omitempty"` // the Auto Scaling group, for asg_* events
	GWLB       string  `json:"gwlb,omitempty"`
	Node       string  `json:"node,omitempty"` // a GWLB node, the node of a link, or one added or removed
	Target     string  `json:"target,omitempty"`
	IP         string  `json:"ip,omitempty"`
	// State is a target's state after the event (initial, healthy,
	// unhealthy, draining, unused) and Reason its AWS reason code.
	State  string `json:"state,omitempty"`
	Reason string `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// EventsQuery selects events: After skips those with Seq <= After; Since
// keeps those whose wall-clock Time is not before it; Follow keeps the
// stream open for new events.
type EventsQuery struct {
	After  uint64
	Since  time.Time
	Follow bool
}

// Path returns PathEvents with the query.
func (q EventsQuery) Path() string {
	v := url.Values{}
	if q.After > 0 {
		v.Set("after", strconv.FormatUint(q.After, 10))
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if q.Follow {
		v.Set("follow", "1")
	}
	if len(v) == 0 {
		return PathEvents
	}
	return PathEvents + "?" + v.Encode()
}

// RegisterQuery is the query of a register request (TargetPath with
// "register"): GWLB names the load balancer whose target group a target
// that is in none yet joins; it may be left out when the lab has one.
func RegisterQuery(gwlb string) string {
	if gwlb == "" {
		return ""
	}
	return "?" + url.Values{"gwlb": {gwlb}}.Encode()
}
