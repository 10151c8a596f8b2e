package api

import "net/url"

// Faults and runtime edits: link impairments, health checks forced to fail
// and route table edits. The emulator applies them at run time; they last
// until changed, cleared, or the emulator restarts.

// LinkSettings is the impairment of one node's link (its eth0 port), the
// body of PUT /v1/links/{node}, which replaces the link's whole setting
// (DELETE /v1/links/{node} clears it; PATCH changes some fields, see
// LinkChange). Down drops every frame to and from the node; loss, delay and
// jitter apply to the frames delivered to it.
type LinkSettings struct {
	Down bool `json:"down"`
	// LossPercent is the chance, 0 to 100, that a frame to the node is lost.
	LossPercent float64 `json:"loss_percent"`
	// Delay and Jitter are Go durations ("40ms"), in lab time; empty means
	// none. Each frame is held for Delay, give or take a uniformly drawn
	// Jitter (at most Delay), and frames keep their order.
	Delay  string `json:"delay,omitempty"`
	Jitter string `json:"jitter,omitempty"`
}

// LinkChange is the body of PATCH /v1/links/{node}: the fields given
// change, the others keep their value. Delay "0s" (or "") removes the delay;
// a link whose delay goes loses its jitter unless the change sets one.
type LinkChange struct {
	Down        *bool    `json:"down,omitempty"`
	LossPercent *float64 `json:"loss_percent,omitempty"`
	Delay       *string  `json:"delay,omitempty"`
	Jitter      *string  `json:"jitter,omitempty"`
}

// Link is one node's link as GET /v1/links and GET, PUT or PATCH
// /v1/links/{node} answer.
type Link struct {
	Node string `json:"node"`
	LinkSettings
	// Dropped counts what the impairment dropped since the emulator
	// started, by drop reason.
	Dropped LinkDrops `json:"dropped"`
	// Delayed counts the frames held by the delay; Queued those held now.
	Delayed uint64 `json:"delayed"`
	Queued  int    `json:"queued"`
}

// LinkDrops are a link's drops by reason; the same reasons count in the
// emulator's drops.
type LinkDrops struct {
	Down      uint64 `json:"link_down"`
	Loss      uint64 `json:"link_loss"`
	QueueFull uint64 `json:"link_queue_full"`
}

// HealthOverride is the body of PUT /v1/targets/{name}/health: Fail forces
// every health check of the target (a name or an address) to fail, from
// every GWLB node that checks it, or only from those of GWLB or from Node;
// false clears it.
type HealthOverride struct {
	Fail bool `json:"fail"`
	// GWLB limits the change to one load balancer's nodes, for a target
	// registered with several; Node to one GWLB node (<gwlb>-<az>).
	GWLB string `json:"gwlb,omitempty"`
	Node string `json:"node,omitempty"`
}

// HealthOverrideResult answers a HealthOverride: the GWLB nodes whose
// checks of the target it changed.
type HealthOverrideResult struct {
	Target string   `json:"target"`
	Fail   bool     `json:"fail"`
	Nodes  []string `json:"nodes"`
}

// Route edit operations, as AWS names them (CreateRoute, ReplaceRoute,
// DeleteRoute).
const (
	RouteAdd     = "add"
	RouteReplace = "replace"
	RouteDelete  = "delete"
)

// RouteEdit is the body of POST /v1/routes/{table}: one change to a route
// table, checked as the topology file's routes are. The answer is the
// table as it then is (RouteTable).
type RouteEdit struct {
	Op string `json:"op"`
	// VPC names the table's VPC; needed only when several VPCs have a
	// table of that name.
	VPC         string `json:"vpc,omitempty"`
	Destination string `json:"destination"`
	// Target is local, blackhole, or the name of the VPC's internet
	// gateway, or of one of its NAT gateways, GWLB endpoints or instances.
	// A delete needs none; one that names a target deletes the route only
	// if it goes there.
	Target string `json:"target,omitempty"`
}

// RouteTable is a route table of the running configuration, as
// GET /v1/routes lists them.
type RouteTable struct {
	VPC  string `json:"vpc"`
	Name string `json:"name"`
	// EdgeAssociation is the internet gateway of a gateway route table.
	EdgeAssociation string   `json:"edge_association,omitempty"`
	Subnets         []string `json:"subnets,omitempty"`
	Routes          []Route  `json:"routes"`
}

// Route is one route of a RouteTable.
type Route struct {
	Destination string `json:"destination"`
	// Target is local, blackhole or a target's name; Kind its kind (local,
	// blackhole, igw, nat, gwlbe, instance).
	Target string `json:"target"`
	Kind   string `json:"kind"`
	// Implicit marks the local route every table has for the VPC's CIDRs.
	Implicit bool `json:"implicit,omitempty"`
}

// Paths of the faults and runtime edits (see LinkPath, HealthPath and
// RoutePath for those that name a node, a target or a table).
const (
	PathLinks  = "/v1/links"  // GET: []Link
	PathRoutes = "/v1/routes" // GET: []RouteTable
)

// LinkPath is the path of one node's link: GET, PUT (LinkSettings), PATCH
// (LinkChange) and DELETE answer a Link.
func LinkPath(node string) string { return PathLinks + "/" + url.PathEscape(node) }

// HealthPath is the path that forces a target's health checks to fail or
// clears that: PUT a HealthOverride, answered by a HealthOverrideResult.
func HealthPath(target string) string { return TargetPath(target, "health") }

// RoutePath is the path that edits a route table: POST a RouteEdit,
// answered by the RouteTable.
func RoutePath(table string) string { return PathRoutes + "/" + url.PathEscape(table) }
