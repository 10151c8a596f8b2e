package topology

// TransitGatewaySpec is one AWS Transit Gateway: a router between the VPCs
// attached to it (spec §6.5).
type TransitGatewaySpec struct {
	Attachments                  map[string]TGWAttachmentSpec `yaml:"attachments,omitempty" desc:"VPC attachments, by name (names are unique across the file)."`
	RouteTables                  map[string]TGWRouteTableSpec `yaml:"route_tables,omitempty" desc:"Transit gateway route tables, by name (unique within the transit gateway)."`
	DefaultAssociationRouteTable string                       `yaml:"default_association_route_table,omitempty" desc:"Route table every attachment that no route table lists under associations is associated with (AWS's default association route table); omitted: such an attachment has no route table and what enters through it is dropped (tgw_no_route)."`
	DefaultPropagationRouteTable string                       `yaml:"default_propagation_route_table,omitempty" desc:"Route table every attachment that no route table lists under propagations propagates its VPC's CIDR to (AWS's default propagation route table); omitted: none."`
}

// TGWAttachmentSpec is a transit gateway VPC attachment.
type TGWAttachmentSpec struct {
	VPC                  string   `yaml:"vpc" desc:"The attached VPC (one attachment per VPC and transit gateway)." schema:"required"`
	Subnets              []string `yaml:"subnets" desc:"Subnets of the VPC, at most one per AZ: the attachment's ENI takes the first free address of each. Traffic from an AZ where the attachment has no subnet cannot reach the transit gateway (tgw_no_attachment_in_az)." schema:"required,minItems=1"`
	ApplianceModeSupport bool     `yaml:"appliance_mode_support,omitempty" desc:"ApplianceModeSupport: traffic the transit gateway sends to this attachment takes one AZ per flow, chosen by a symmetric flow hash, in both directions; off: it leaves in the AZ it entered in (spec §6.5)." schema:"default=false"`
}

// TGWRouteTableSpec is a transit gateway route table.
type TGWRouteTableSpec struct {
	Associations []string       `yaml:"associations,omitempty" desc:"Attachments whose incoming traffic this table routes (an attachment is associated with at most one table)."`
	Propagations []string       `yaml:"propagations,omitempty" desc:"Attachments whose VPC CIDRs this table learns as propagated routes."`
	Routes       []TGWRouteSpec `yaml:"routes,omitempty" desc:"Static routes. Longest prefix wins; on an equal prefix a static route wins over a propagated one."`
}

// TGWRouteSpec is a static transit gateway route.
type TGWRouteSpec struct {
	Destination string `yaml:"destination" desc:"Destination prefix, e.g. 0.0.0.0/0." schema:"required"`
	Target      string `yaml:"target" desc:"An attachment of the same transit gateway, or blackhole (drop, counted as tgw_blackhole)." schema:"required"`
}
