package api

import "net/netip"

// Transit gateways, as GET /v1/tgws lists them.

// TGWStatus is a transit gateway as `gwlb-lab tgw` shows it.
type TGWStatus struct {
	Name        string                `json:"name"`
	Attachments []TGWAttachmentStatus `json:"attachments"`
	RouteTables []TGWRouteTableStatus `json:"route_tables"`
}

// TGWAttachmentStatus is an attachment with its counters: packets and
// bytes that entered the gateway through it (In) and left through it
// (Out), and what entered through it and was dropped, by reason.
type TGWAttachmentStatus struct {
	Name          string   `json:"name"`
	VPC           string   `json:"vpc"`
	RouteTable    string   `json:"route_table,omitempty"`
	ApplianceMode bool     `json:"appliance_mode"`
	ENIs          []TGWENI `json:"enis"`
	InPackets     uint64   `json:"in_packets"`
	InBytes       uint64   `json:"in_bytes"`
	OutPackets    uint64   `json:"out_packets"`
	OutBytes      uint64   `json:"out_bytes"`
	// Drops are keyed by drop reason (tgw_no_route, tgw_blackhole,
	// tgw_no_attachment_in_az).
	Drops map[string]uint64 `json:"drops"`
}

// TGWRouteTableStatus is a transit gateway route table: its associated
// attachments, and its routes; Active is false for a propagated route that
// a static route of the same prefix overrides.
type TGWRouteTableStatus struct {
	Name         string           `json:"name"`
	Associations []string         `json:"associations"`
	Routes       []TGWRouteStatus `json:"routes"`
}

// TGWRouteStatus is one route of a TGW route table.
type TGWRouteStatus struct {
	Destination netip.Prefix `json:"destination"`
	Attachment  string       `json:"attachment,omitempty"`
	Blackhole   bool         `json:"blackhole,omitempty"`
	Propagated  bool         `json:"propagated,omitempty"`
	Active      bool         `json:"active"`
}

// TGWENI is one of an attachment's network interfaces: one per subnet,
// one subnet per AZ.
type TGWENI struct {
	Subnet string     `json:"subnet"`
	AZ     string     `json:"az"`
	IP     netip.Addr `json:"ip"`
	// IP6 is its IPv6 address, in a dualstack subnet only.
	IP6 netip.Addr `json:"ip6,omitzero"`
}
