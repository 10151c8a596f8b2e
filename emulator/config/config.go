package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
)

// Version is the snapshot format version; the emulator refuses other ones.
const Version = 1

// Snapshot is one lab's complete runtime configuration.
type Snapshot struct {
	Version int    `json:"version"`
	Lab     string `json:"lab"`
	// TimeScale speeds up every emulator timer (idle timeouts, NAT entries,
	// health checks): 10 means ten lab seconds pass per wall-clock second.
	TimeScale float64 `json:"time_scale"`
	// ControlSocket is the path of the emulator's Unix control socket.
	ControlSocket string `json:"control_socket"`

	VPCs     []VPC     `json:"vpcs"`
	Internet *Internet `json:"internet,omitempty"`
	GWLBs    []GWLB    `json:"gwlbs,omitempty"`
	Services []Service `json:"endpoint_services,omitempty"`
	// TransitGateways connect VPCs through their attachments (tgw.go).
	TransitGateways []TransitGateway `json:"transit_gateways,omitempty"`
	// AutoScalingGroups are run by the emulator's controller (asg.go).
	AutoScalingGroups []AutoScalingGroup `json:"autoscaling_groups,omitempty"`
}

// VPC is one virtual private cloud.
type VPC struct {
	Name  string         `json:"name"`
	CIDRs []netip.Prefix `json:"cidrs"` // IPv4 first, then IPv6 if any
	// InternetGateway is the name of the VPC's IGW, empty when it has none.
	InternetGateway string `json:"internet_gateway,omitempty"`
	// EdgeRouteTable is the route table associated with the IGW (a gateway
	// route table), empty when none is.
	EdgeRouteTable string       `json:"edge_route_table,omitempty"`
	Subnets        []Subnet     `json:"subnets"`
	RouteTables    []RouteTable `json:"route_tables"`
	NATGateways    []NATGateway `json:"nat_gateways,omitempty"`
	Endpoints      []Endpoint   `json:"gwlb_endpoints,omitempty"`
}

// Subnet is a subnet of a VPC: one L2 segment whose router the emulator plays.
type Subnet struct {
	Name       string       `json:"name"`
	AZ         string       `json:"az"`
	CIDR       netip.Prefix `json:"cidr"`
	IPv6CIDR   netip.Prefix `json:"ipv6_cidr,omitzero"`
	RouteTable string       `json:"route_table"`
	// Router is the subnet router's address (the first usable one) and
	// RouterMAC the MAC it answers ARP (and IPv6 neighbor solicitations)
	// with. RouterV6 is its IPv6 address, set when IPv6CIDR is.
	Router    netip.Addr `json:"router"`
	RouterV6  netip.Addr `json:"router_v6,omitzero"`
	RouterMAC MAC        `json:"router_mac"`
	ENIs      []ENI      `json:"enis,omitempty"`
}

// ENI is a network interface of a node, wired to the emulator as a port.
type ENI struct {
	// Node is the node's name; NetNS the path of its network namespace
	// (a bind mount such as /run/netns/gwlb-lab-web); Interface the TAP
	// inside it.
	Node      string     `json:"node"`
	NetNS     string     `json:"netns"`
	Interface string     `json:"interface"`
	MAC       MAC        `json:"mac"`
	MTU       int        `json:"mtu"`
	IP        netip.Addr `json:"ip"`
	IPv6      netip.Addr `json:"ipv6,omitzero"`
	// PublicIP is the address the internet gateway maps 1:1 to IP.
	PublicIP netip.Addr `json:"public_ip,omitzero"`
	// SourceDestCheck drops traffic the ENI sends from, or would receive for,
	// an address that is not its own (spec §6.6 #13).
	SourceDestCheck bool `json:"source_dest_check"`
	// UDPCoalesce has the port write runs of UDP datagrams of one flow to
	// the node as one USO frame, which only a node that reads them through
	// UDP sockets gets back as the datagrams (docs/architecture.md).
	UDPCoalesce bool `json:"udp_coalesce,omitempty"`
}

// RouteTable is an AWS route table.
type RouteTable struct {
	Name   string  `json:"name"`
	Routes []Route `json:"routes"`
}

// Target kinds of a route.
const (
	TargetLocal     = "local"
	TargetIGW       = "igw"
	TargetNAT       = "nat"
	TargetEndpoint  = "gwlbe"
	TargetInstance  = "instance"
	TargetBlackhole = "blackhole"
)

// Route sends Destination to a target of Kind (one of the Target*
// constants) named Target (empty for local and blackhole).
type Route struct {
	Destination netip.Prefix `json:"destination"`
	Kind        string       `json:"kind"`
	Target      string       `json:"target,omitempty"`
}

// NATGateway is a public NAT gateway in a subnet.
type NATGateway struct {
	Name     string     `json:"name"`
	Subnet   string     `json:"subnet"`
	IP       netip.Addr `json:"ip"`
	PublicIP netip.Addr `json:"public_ip"`
}

// Endpoint is a GWLB endpoint (GWLBE): a route target in its subnet that hands
// traffic to the GWLB node of its AZ behind its service.
type Endpoint struct {
	Name    string     `json:"name"`
	ID      string     `json:"id"` // vpce-<17 hex digits>
	Subnet  string     `json:"subnet"`
	AZ      string     `json:"az"`
	IP      netip.Addr `json:"ip"`
	Service string     `json:"service"`
	// GWLB and GWLBNode are the load balancer and its node (in the
	// endpoint's AZ) that the endpoint hands traffic to.
	GWLB     string `json:"gwlb,omitempty"`
	GWLBNode string `json:"gwlb_node,omitempty"`
	// Accepted is false while the service requires acceptance and the
	// endpoint has not been accepted: it passes nothing.
	Accepted bool `json:"accepted"`
}

// Service is an endpoint service (PrivateLink) fronted by GWLBs.
type Service struct {
	Name               string   `json:"name"`
	ID                 string   `json:"id"` // vpce-svc-<17 hex digits>
	GWLBs              []string `json:"gwlbs"`
	AcceptanceRequired bool     `json:"acceptance_required"`
}

// GWLB is a Gateway Load Balancer with one node per enabled AZ.
type GWLB struct {
	Name      string     `json:"name"`
	VPC       string     `json:"vpc"`
	CrossZone bool       `json:"cross_zone"`
	Nodes     []GWLBNode `json:"nodes"`
	// TCPIdleTimeout is the listener's tcp.idle_timeout.seconds.
	TCPIdleTimeout int `json:"tcp_idle_timeout"`
	// SendTCPReset is send_tcp_reset.on_idle_timeout.enabled.
	SendTCPReset bool        `json:"send_tcp_reset"`
	TargetGroup  TargetGroup `json:"target_group"`
	// MaxFlowsPerNode caps the flows each node holds (all its endpoints
	// together); zero means DefaultMaxFlowsPerNode.
	MaxFlowsPerNode int `json:"max_flows_per_node,omitempty"`
}

// DefaultMaxFlowsPerNode is a GWLB node's flow limit when none is set. AWS
// publishes no flow limit (GWLB scales itself, spec §8 lists none), so the
// number is this lab's: far more flows than a test makes, and at about
// 440 bytes of the emulator's memory a flow (280 of heap, see
// BenchmarkFlowMemory, plus the garbage collector's headroom), some 45 MB
// per node at worst, which a workstation running several labs can afford.
const DefaultMaxFlowsPerNode = 100_000

// GWLBNode is the GWLB's presence in one AZ: an ENI address in its subnet.
type GWLBNode struct {
	Name   string     `json:"name"`
	AZ     string     `json:"az"`
	Subnet string     `json:"subnet"`
	IP     netip.Addr `json:"ip"`
	MAC    MAC        `json:"mac"`
}

// TargetGroup is the GENEVE target group behind the listener.
type TargetGroup struct {
	Name                string      `json:"name"`
	TargetType          string      `json:"target_type"` // instance or ip
	Stickiness          string      `json:"stickiness"`  // 5-tuple, 3-tuple, 2-tuple
	HealthCheck         HealthCheck `json:"health_check"`
	OnDeregistration    string      `json:"on_deregistration"` // rebalance or no_rebalance
	OnUnhealthy         string      `json:"on_unhealthy"`
	DeregistrationDelay int         `json:"deregistration_delay"`
	Targets             []Target    `json:"targets"`
}

// HealthCheck holds the target group's health-check settings (spec §4.1).
type HealthCheck struct {
	Protocol           string `json:"protocol"`
	Port               int    `json:"port"`
	Path               string `json:"path,omitempty"`
	Interval           int    `json:"interval"`
	Timeout            int    `json:"timeout"`
	HealthyThreshold   int    `json:"healthy_threshold"`
	UnhealthyThreshold int    `json:"unhealthy_threshold"`
	Matcher            string `json:"matcher,omitempty"`
}

// Target is a registered target: an instance (by node name) or an IP.
type Target struct {
	Name string     `json:"name,omitempty"`
	IP   netip.Addr `json:"ip"`
	AZ   string     `json:"az"`
}

// Internet is the lab's stand-in for the internet: hosts on their own
// segments, reachable from VPCs only through internet and NAT gateways.
type Internet struct {
	Segments []Segment `json:"segments"`
}

// Segment is one internet L2 segment with its router.
type Segment struct {
	CIDR      netip.Prefix `json:"cidr"`
	Router    netip.Addr   `json:"router"`
	RouterMAC MAC          `json:"router_mac"`
	Hosts     []ENI        `json:"hosts"`
	// IPv6 lists the segment's IPv6 on-link prefixes (each host's /64 by
	// default), each with its router; the router answers with RouterMAC.
	IPv6 []SegmentIPv6 `json:"ipv6,omitempty"`
}

// SegmentIPv6 is one IPv6 on-link prefix of an internet segment.
type SegmentIPv6 struct {
	CIDR   netip.Prefix `json:"cidr"`
	Router netip.Addr   `json:"router"`
}

// MAC is a hardware address that marshals as the usual colon form.
type MAC [6]byte

// ParseMAC parses the colon form.
func ParseMAC(s string) (MAC, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return MAC{}, fmt.Errorf("invalid MAC address %q", s)
	}
	return MAC(hw), nil
}

func (m MAC) String() string { return net.HardwareAddr(m[:]).String() }

// MarshalText implements encoding.TextMarshaler.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *MAC) UnmarshalText(b []byte) error {
	v, err := ParseMAC(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// Load reads and validates a snapshot file.
func Load(path string) (*Snapshot, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse decodes and validates a snapshot.
func Parse(b []byte) (*Snapshot, error) {
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode config: %w", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Write stores the snapshot as indented JSON.
func (s *Snapshot) Write(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// ErrVersion is returned for a snapshot of another format version.
var ErrVersion = errors.New("unsupported config version")
