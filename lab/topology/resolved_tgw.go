package topology

import "net/netip"

// TransitGateway is a resolved transit gateway (spec §6.5).
type TransitGateway struct {
	Name string `json:"name"`
	ID   string `json:"id"` // tgw-<17 hex>
	// DefaultAssociationRouteTable and DefaultPropagationRouteTable are
	// the file's; they are already applied to the attachments.
	DefaultAssociationRouteTable string          `json:"default_association_route_table,omitempty"`
	DefaultPropagationRouteTable string          `json:"default_propagation_route_table,omitempty"`
	Attachments                  []TGWAttachment `json:"attachments"`
	RouteTables                  []TGWRouteTable `json:"route_tables"`
}

// TGWAttachment is a resolved VPC attachment.
type TGWAttachment struct {
	Name                 string `json:"name"`
	ID                   string `json:"id"` // tgw-attach-<17 hex>
	VPC                  string `json:"vpc"`
	ApplianceModeSupport bool   `json:"appliance_mode_support"`
	// RouteTable is the associated route table (listed, or the default
	// association table); empty for none.
	RouteTable string `json:"route_table,omitempty"`
	// Propagations are the route tables the VPC's CIDRs propagate to.
	Propagations []string `json:"propagations"`
	// ENIs are the attachment's interfaces, one per subnet, sorted by AZ.
	ENIs []TGWENI `json:"enis"`
}

// TGWENI is an attachment's interface in one subnet.
type TGWENI struct {
	Subnet string     `json:"subnet"`
	AZ     string     `json:"az"`
	Addr   netip.Addr `json:"addr"`
	// Addr6 is its IPv6 address, in a dualstack subnet only.
	Addr6 netip.Addr `json:"addr6,omitzero"`
}

// TGWRouteTable is a resolved transit gateway route table: the static
// routes in file order, then the propagated ones by attachment name.
type TGWRouteTable struct {
	Name         string     `json:"name"`
	ID           string     `json:"id"` // tgw-rtb-<17 hex>
	Associations []string   `json:"associations"`
	Propagations []string   `json:"propagations"`
	Routes       []TGWRoute `json:"routes"`
}

// TGWRoute is a transit gateway route: to an attachment, or a blackhole.
type TGWRoute struct {
	Destination netip.Prefix `json:"destination"`
	Attachment  string       `json:"attachment,omitempty"`
	Blackhole   bool         `json:"blackhole,omitempty"`
	// Propagated routes come from an attachment's VPC CIDR.
	Propagated bool `json:"propagated,omitempty"`
}

// TransitGateway returns the transit gateway named name.
func (l *Lab) TransitGateway(name string) (*TransitGateway, bool) {
	return find(l.TransitGateways, name, func(t *TransitGateway) string { return t.Name })
}
