package topology

import (
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// The resolved model: what Resolve makes of a valid topology file. Every
// default is applied, every name and address is final, and everything is
// sorted by name, so the same file and lab name always give the same Lab.
// Objects refer to each other by name; the lookup methods of Lab follow the
// names. The types are JSON-serialisable (snake_case keys).

// Lab is a resolved lab.
type Lab struct {
	// Name is the lab name; Prefix ("gwlb-<name>-") starts the name of every
	// host resource of the lab.
	Name   string `json:"name"`
	Prefix string `json:"prefix"`
	// TimeScale speeds up the emulator's clock; durations below are nominal
	// (as AWS would count them): the emulator divides them by TimeScale.
	TimeScale  float64 `json:"time_scale"`
	LabTimings bool    `json:"lab_timings"`

	VPCs             []VPC             `json:"vpcs"`
	GWLBs            []GWLB            `json:"gwlbs"`
	EndpointServices []EndpointService `json:"endpoint_services"`
	Internet         Internet          `json:"internet"`
	// TransitGateways connect VPCs (resolved_tgw.go).
	TransitGateways []TransitGateway `json:"transit_gateways,omitempty"`
	// AutoScalingGroups launch their instances at run time (resolved_asg.go).
	AutoScalingGroups []AutoScalingGroup `json:"autoscaling_groups,omitempty"`
	// Nodes are the lab's network namespaces: instances, internet hosts and
	// GWLB nodes, one ENI each.
	Nodes []Node `json:"nodes"`
}

// VPC is a resolved VPC.
type VPC struct {
	Name     string       `json:"name"`
	ID       string       `json:"id"` // vpc-<17 hex>
	CIDR     netip.Prefix `json:"cidr"`
	IPv6CIDR netip.Prefix `json:"ipv6_cidr,omitzero"`
	// InternetGateway is nil for a VPC without one.
	InternetGateway *InternetGateway `json:"internet_gateway,omitempty"`
	Subnets         []Subnet         `json:"subnets"`
	RouteTables     []RouteTable     `json:"route_tables"`
	NATGateways     []NATGateway     `json:"nat_gateways"`
	Endpoints       []Endpoint       `json:"endpoints"`
	// Instances are the names of the VPC's instance nodes (see Lab.Nodes).
	Instances []string `json:"instances"`
}

// InternetGateway is a VPC's internet gateway: 1:1 NAT between the public
// addresses and the private addresses they map to, plus an optional edge
// route table for traffic entering the VPC.
type InternetGateway struct {
	Name string `json:"name"`
	ID   string `json:"id"` // igw-<17 hex>
	// EdgeRouteTable is the gateway route table associated with the gateway;
	// empty if none.
	EdgeRouteTable string `json:"edge_route_table,omitempty"`
	// PublicIPs maps public to private addresses, sorted by public address.
	PublicIPs []PublicIP `json:"public_ips"`
}

// PublicIP is one elastic IP mapping of an internet gateway.
type PublicIP struct {
	Public  netip.Addr `json:"public"`
	Private netip.Addr `json:"private"`
	// Owner is the instance or NAT gateway holding the address.
	Owner     string    `json:"owner"`
	OwnerKind OwnerKind `json:"owner_kind"`
}

// OwnerKind says what holds a public address.
type OwnerKind string

// Owners of public addresses.
const (
	OwnerInstance   OwnerKind = "instance"
	OwnerNATGateway OwnerKind = "nat-gateway"
)

// Subnet is a resolved subnet.
type Subnet struct {
	Name     string       `json:"name"`
	ID       string       `json:"id"` // subnet-<17 hex>
	VPC      string       `json:"vpc"`
	AZ       string       `json:"az"`
	CIDR     netip.Prefix `json:"cidr"`
	IPv6CIDR netip.Prefix `json:"ipv6_cidr,omitzero"`
	// Router is the VPC router's address in the subnet (the first address
	// after the network address, .1) and RouterMAC the MAC it answers ARP
	// (and IPv6 neighbor solicitations) with. RouterV6 is its IPv6 address
	// in a dualstack subnet: the lab's choice of prefix::1 (AWS announces
	// its router by router advertisements instead).
	Router    netip.Addr `json:"router"`
	RouterV6  netip.Addr `json:"router_v6,omitzero"`
	RouterMAC MAC        `json:"router_mac"`
	// RouteTable is the name of the subnet's route table (given, or main).
	RouteTable string `json:"route_table"`
}

// RouteTable is a resolved route table. Routes hold the implicit local
// route(s) first (unless a route of the file replaced them), then the file's
// routes in file order. Lookups are longest prefix match.
type RouteTable struct {
	Name string `json:"name"`
	ID   string `json:"id"` // rtb-<17 hex>
	VPC  string `json:"vpc"`
	// Main is true for the table named main.
	Main bool `json:"main,omitempty"`
	// EdgeAssociation is the internet gateway the table is associated with;
	// empty for a subnet route table.
	EdgeAssociation string `json:"edge_association,omitempty"`
	// Subnets are the subnets using the table.
	Subnets []string `json:"subnets"`
	Routes  []Route  `json:"routes"`
}

// Route is one route.
type Route struct {
	Destination netip.Prefix `json:"destination"`
	Target      RouteTarget  `json:"target"`
}

// RouteTarget is where a route sends traffic.
type RouteTarget struct {
	Kind TargetKind `json:"kind"`
	// Name is the target's name (empty for local and blackhole).
	Name string `json:"name,omitempty"`
}

// String returns the target as written in a topology file.
func (t RouteTarget) String() string {
	if t.Name == "" {
		return string(t.Kind)
	}
	return t.Name
}

// TargetKind is the kind of a route target.
type TargetKind string

// Route target kinds.
const (
	TargetLocal           TargetKind = "local"
	TargetBlackhole       TargetKind = "blackhole" // lab extra: drop and count
	TargetInternetGateway TargetKind = "internet-gateway"
	TargetNATGateway      TargetKind = "nat-gateway"
	TargetEndpoint        TargetKind = "gwlb-endpoint"
	TargetInstance        TargetKind = "instance"
	TargetTransitGateway  TargetKind = "transit-gateway"
)

// NATGateway is a resolved public NAT gateway. It lives in the emulator; its
// ENI has an address and MAC in its subnet.
type NATGateway struct {
	Name      string     `json:"name"`
	ID        string     `json:"id"` // nat-<17 hex>
	VPC       string     `json:"vpc"`
	Subnet    string     `json:"subnet"`
	AZ        string     `json:"az"`
	PrivateIP netip.Addr `json:"private_ip"`
	PublicIP  netip.Addr `json:"public_ip"`
	MAC       MAC        `json:"mac"`
}

// Endpoint is a resolved GWLB endpoint. It lives in the emulator; its ENI
// has an address and MAC in its subnet.
type Endpoint struct {
	Name string `json:"name"`
	// ID is "vpce-" and 17 hex digits with a leading 0; Number is its 64-bit
	// value, carried in GENEVE option type 1 (spec §2.3). JSON carries
	// Number as a string: it does not fit a JavaScript number.
	ID     string     `json:"id"`
	Number uint64     `json:"number,string"`
	VPC    string     `json:"vpc"`
	Subnet string     `json:"subnet"`
	AZ     string     `json:"az"`
	Addr   netip.Addr `json:"addr"`
	Addr6  netip.Addr `json:"addr6,omitzero"`
	MAC    MAC        `json:"mac"`
	// Service is the endpoint service; GWLB and GWLBNode the load balancer
	// and the node (of the endpoint's AZ) it sends traffic to.
	Service  string `json:"service"`
	GWLB     string `json:"gwlb"`
	GWLBNode string `json:"gwlb_node"`
}

// EndpointService is a resolved endpoint service.
type EndpointService struct {
	Name string `json:"name"`
	// ID is "vpce-svc-" and 17 hex digits; ServiceName the name consumers
	// use (com.amazonaws.vpce.<region>.<ID>, region "lab").
	ID                 string   `json:"id"`
	ServiceName        string   `json:"service_name"`
	GWLBs              []string `json:"gwlbs"`
	AcceptanceRequired bool     `json:"acceptance_required"`
	Endpoints          []string `json:"endpoints"`
}

// GWLB is a resolved Gateway Load Balancer.
type GWLB struct {
	Name string `json:"name"`
	// ID is 16 hex digits, as in the CloudWatch dimension
	// gateway/<name>/<ID>.
	ID        string `json:"id"`
	VPC       string `json:"vpc"`
	CrossZone bool   `json:"cross_zone"`
	// Service is the endpoint service the GWLB is behind; empty if none.
	Service     string      `json:"service,omitempty"`
	Nodes       []GWLBNode  `json:"nodes"`
	Listener    Listener    `json:"listener"`
	TargetGroup TargetGroup `json:"target_group"`
	// MaxFlowsPerNode caps each node's flow table (a lab setting).
	MaxFlowsPerNode int `json:"max_flows_per_node"`
}

// GWLBNode is the load balancer's node in one enabled AZ. Its ENI is the lab
// node of the same name (Lab.Node), the source of GENEVE and health checks.
type GWLBNode struct {
	Name   string     `json:"name"` // <gwlb>-<az>
	AZ     string     `json:"az"`
	Subnet string     `json:"subnet"`
	Addr   netip.Addr `json:"addr"`
}

// Listener holds the listener attributes.
type Listener struct {
	TCPIdleTimeout            time.Duration `json:"tcp_idle_timeout"`
	SendTCPResetOnIdleTimeout bool          `json:"send_tcp_reset_on_idle_timeout"`
}

// TargetGroup is a resolved GENEVE target group.
type TargetGroup struct {
	Name string `json:"name"`
	// ID is 16 hex digits, as in the CloudWatch dimension
	// targetgroup/<name>/<ID>.
	ID                  string         `json:"id"`
	Protocol            string         `json:"protocol"` // GENEVE
	Port                int            `json:"port"`     // 6081
	TargetType          TargetType     `json:"target_type"`
	HealthCheck         HealthCheck    `json:"health_check"`
	Stickiness          Stickiness     `json:"stickiness"`
	TargetFailover      TargetFailover `json:"target_failover"`
	DeregistrationDelay time.Duration  `json:"deregistration_delay"`
	// Targets are in the order the file lists them.
	Targets []Target `json:"targets"`
}

// TargetType is instance or ip.
type TargetType string

// Target types.
const (
	TargetTypeInstance TargetType = "instance"
	TargetTypeIP       TargetType = "ip"
)

// Target is one registered target.
type Target struct {
	// ID is the target as registered: an instance name or an address.
	ID string `json:"id"`
	// Node is the instance node holding the address.
	Node   string     `json:"node"`
	Addr   netip.Addr `json:"addr"`
	AZ     string     `json:"az"`
	Subnet string     `json:"subnet"`
}

// HealthCheck holds resolved health check settings.
type HealthCheck struct {
	Protocol           string        `json:"protocol"` // TCP, HTTP or HTTPS
	Port               int           `json:"port"`
	Path               string        `json:"path"`
	Interval           time.Duration `json:"interval"`
	Timeout            time.Duration `json:"timeout"`
	HealthyThreshold   int           `json:"healthy_threshold"`
	UnhealthyThreshold int           `json:"unhealthy_threshold"`
	Matcher            string        `json:"matcher"`
}

// Stickiness is the flow key of a target group.
type Stickiness string

// Stickiness modes (spec §3.1).
const (
	FiveTuple  Stickiness = "5-tuple"
	ThreeTuple Stickiness = "3-tuple" // AWS source_ip_dest_ip_proto
	TwoTuple   Stickiness = "2-tuple" // AWS source_ip_dest_ip
)

// FailoverAction is rebalance or no_rebalance.
type FailoverAction string

// Failover actions (spec §4.4).
const (
	NoRebalance FailoverAction = "no_rebalance"
	Rebalance   FailoverAction = "rebalance"
)

// TargetFailover holds the target failover attributes.
type TargetFailover struct {
	OnDeregistration FailoverAction `json:"on_deregistration"`
	OnUnhealthy      FailoverAction `json:"on_unhealthy"`
}

// Internet is the lab's internet: segments with a router each.
type Internet struct {
	Segments []Segment `json:"segments"`
}

// Segment is one internet segment (an on-link prefix) and its router.
type Segment struct {
	Prefix     netip.Prefix `json:"prefix"`
	Gateway    netip.Addr   `json:"gateway"`
	GatewayMAC MAC          `json:"gateway_mac"`
	// Hosts are the names of the internet host nodes on the segment.
	Hosts []string `json:"hosts"`
	// IPv6 are the IPv6 /64s of the segment's hosts, each with its router
	// (answering with GatewayMAC), sorted by prefix.
	IPv6 []SegmentIPv6 `json:"ipv6,omitempty"`
}

// SegmentIPv6 is one IPv6 on-link prefix of an internet segment.
type SegmentIPv6 struct {
	Prefix  netip.Prefix `json:"prefix"`
	Gateway netip.Addr   `json:"gateway"`
}

// NodeKind is the kind of a lab node.
type NodeKind string

// Node kinds.
const (
	NodeInstance     NodeKind = "instance"
	NodeInternetHost NodeKind = "internet-host"
	NodeGWLB         NodeKind = "gwlb-node"
)

// Node is one network namespace of the lab with its one ENI.
type Node struct {
	Name string   `json:"name"`
	Kind NodeKind `json:"kind"`
	// ID is the instance id (i-<17 hex>) of an instance node; empty otherwise.
	ID string `json:"id,omitempty"`
	// Netns is the namespace name: gwlb-<lab>-<node>.
	Netns string `json:"netns"`
	// VPC, Subnet and AZ locate an instance or GWLB node; empty for an
	// internet host.
	VPC       string    `json:"vpc,omitempty"`
	Subnet    string    `json:"subnet,omitempty"`
	AZ        string    `json:"az,omitempty"`
	Interface Interface `json:"interface"`
	// Run is what runs in the node; nil for nothing.
	Run *Run `json:"run,omitempty"`
	// Container makes the node a Docker container; nil for a bare
	// network namespace.
	Container *Container `json:"container,omitempty"`
}

// Container is a container node's Docker settings (see ContainerSpec).
type Container struct {
	Image      string            `json:"image"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Command    []string          `json:"command,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	CapAdd     []string          `json:"cap_add,omitempty"`
	Devices    []string          `json:"devices,omitempty"`
	Volumes    []string          `json:"volumes,omitempty"`
	WorkingDir string            `json:"working_dir,omitempty"`
	User       string            `json:"user,omitempty"`
	Sysctls    map[string]string `json:"sysctls,omitempty"`
}

// Interface is a node's one ENI as the node sees it.
type Interface struct {
	Name string `json:"name"` // eth0
	MAC  MAC    `json:"mac"`
	// Addr is the address with the subnet's (or segment's) prefix length.
	Addr netip.Prefix `json:"addr"`
	// Gateway is the default gateway (the subnet router or the segment's
	// router), GatewayMAC its MAC.
	Gateway    netip.Addr `json:"gateway"`
	GatewayMAC MAC        `json:"gateway_mac"`
	// Addr6 is the IPv6 address with its prefix length (/64) and Gateway6
	// the IPv6 router (same MAC as Gateway); zero without IPv6.
	Addr6    netip.Prefix `json:"addr6,omitzero"`
	Gateway6 netip.Addr   `json:"gateway6,omitzero"`
	MTU      int          `json:"mtu"`
	// PublicIP is the elastic IP mapped to Addr by the internet gateway, or
	// the host's own address for an internet host; zero if none.
	PublicIP        netip.Addr `json:"public_ip,omitzero"`
	SourceDestCheck bool       `json:"source_dest_check"`
}

// RunKind says which kind of program a node runs.
type RunKind string

// Run kinds.
const (
	RunHTTPEcho  RunKind = "http_echo"
	RunCommand   RunKind = "command"
	RunAppliance RunKind = "appliance"
	RunReflector RunKind = "reflector"
)

// Restart policies of a node program.
const (
	RestartNever     = "never"
	RestartOnFailure = "on-failure"
	RestartAlways    = "always"
)

// Run is what runs in a node: Kind says which of the other fields is set.
type Run struct {
	Kind      RunKind    `json:"kind"`
	HTTPEcho  *HTTPEcho  `json:"http_echo,omitempty"`
	Command   []string   `json:"command,omitempty"`
	Appliance *Appliance `json:"appliance,omitempty"`
	Reflector *Reflector `json:"reflector,omitempty"`
	// Restart is the restart policy: never, on-failure or always.
	Restart string `json:"restart"`
	// Ready is the readiness check; nil for the program kind's default.
	Ready *Ready `json:"ready,omitempty"`
	// Files are placed in the node's view before the program starts,
	// sorted by Dest.
	Files []PlacedFile `json:"files,omitempty"`
}

// PlacedFile is one entry of run.files: Source is absolute (resolved
// against the topology file's directory), Dest as written.
type PlacedFile struct {
	Dest   string `json:"dest"`
	Source string `json:"source"`
}

// Ready is a readiness check: TCP (a port) or Command.
type Ready struct {
	TCP     int           `json:"tcp,omitempty"`
	Command []string      `json:"command,omitempty"`
	Timeout time.Duration `json:"timeout"`
}

// HTTPEcho is the HTTP echo server.
type HTTPEcho struct {
	Port int `json:"port"`
}

// ApplianceMode is forward or firewall.
type ApplianceMode string

// Appliance modes.
const (
	ApplianceForward  ApplianceMode = "forward"
	ApplianceFirewall ApplianceMode = "firewall"
	ApplianceTunnel   ApplianceMode = "tunnel"
)

// Appliance is the reference appliance's configuration.
type Appliance struct {
	Mode       ApplianceMode  `json:"mode"`
	HealthPort int            `json:"health_port"`
	Rules      []FirewallRule `json:"rules,omitempty"`
	// DefaultAction is allow or deny (firewall mode).
	DefaultAction string `json:"default_action"`
	// Hook is the tunnel mode's hook command.
	Hook      string     `json:"hook,omitempty"`
	FlowLog   bool       `json:"flow_log"`
	Misbehave *Misbehave `json:"misbehave,omitempty"`
	// FlowLogMaxBytes is the size at which the flow log rotates.
	FlowLogMaxBytes int `json:"flow_log_max_bytes,omitempty"`
	// GWLBNodes are the addresses of the GWLB nodes whose target group
	// has the node: the only senders whose GENEVE the appliance returns.
	// up fills them in the appliance's own configuration file; the
	// resolved topology leaves them out (they are in its gwlbs).
	GWLBNodes []netip.Addr `json:"gwlb_nodes,omitempty"`
}

// FirewallRule is one rule of the reference appliance; zero CIDR means any
// address, zero Port any port.
type FirewallRule struct {
	Action   string       `json:"action"` // allow or deny
	CIDR     netip.Prefix `json:"cidr,omitzero"`
	Protocol string       `json:"protocol"` // tcp, udp, icmp or any
	Port     int          `json:"port,omitempty"`
}

// Misbehave lists deliberate protocol violations; zero fields are off.
type Misbehave struct {
	AlterCookie   bool   `json:"alter_cookie,omitempty"`
	StripOption   int    `json:"strip_option,omitempty"`
	VNI           uint32 `json:"vni,omitempty"`
	ReplyFromPort int    `json:"reply_from_port,omitempty"`
	ReflectTCP    bool   `json:"reflect_tcp,omitempty"`
	HealthDelayMS int    `json:"health_delay_ms,omitempty"`
	Control       bool   `json:"control,omitempty"`
}

// Reflector is the iptables reflector's configuration.
type Reflector struct {
	HealthPort int `json:"health_port"`
	// SameAZOnly: rules only for the GWLB node of the appliance's AZ.
	SameAZOnly bool `json:"same_az_only,omitempty"`
}

// MAC is an Ethernet address, written as text (02:00:5e:10:00:01). The
// lab's are locally administered unicast. It is the emulator's type, so the
// resolved lab and the emulator's configuration share one notation.
type MAC = config.MAC

// Node returns the node named name.
func (l *Lab) Node(name string) (*Node, bool) {
	return find(l.Nodes, name, func(n *Node) string { return n.Name })
}

// VPC returns the VPC named name.
func (l *Lab) VPC(name string) (*VPC, bool) {
	return find(l.VPCs, name, func(v *VPC) string { return v.Name })
}

// GWLB returns the load balancer named name.
func (l *Lab) GWLB(name string) (*GWLB, bool) {
	return find(l.GWLBs, name, func(g *GWLB) string { return g.Name })
}

// EndpointService returns the endpoint service named name.
func (l *Lab) EndpointService(name string) (*EndpointService, bool) {
	return find(l.EndpointServices, name, func(s *EndpointService) string { return s.Name })
}

// Subnet returns the subnet named name.
func (v *VPC) Subnet(name string) (*Subnet, bool) {
	return find(v.Subnets, name, func(s *Subnet) string { return s.Name })
}

// RouteTable returns the route table named name.
func (v *VPC) RouteTable(name string) (*RouteTable, bool) {
	return find(v.RouteTables, name, func(t *RouteTable) string { return t.Name })
}

// Endpoint returns the GWLB endpoint named name.
func (v *VPC) Endpoint(name string) (*Endpoint, bool) {
	return find(v.Endpoints, name, func(e *Endpoint) string { return e.Name })
}

// NATGateway returns the NAT gateway named name.
func (v *VPC) NATGateway(name string) (*NATGateway, bool) {
	return find(v.NATGateways, name, func(n *NATGateway) string { return n.Name })
}

// find looks a name up in a slice sorted by name.
func find[T any](list []T, name string, key func(*T) string) (*T, bool) {
	i, ok := slices.BinarySearchFunc(list, name, func(x T, n string) int { return strings.Compare(key(&x), n) })
	if !ok {
		return nil, false
	}
	return &list[i], true
}
