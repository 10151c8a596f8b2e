package topology

// This file holds the raw types: the topology file exactly as written. Every
// optional scalar whose zero value differs from its default (or is itself a
// valid value, like a deregistration delay of 0) is a pointer, so that
// "absent" and "set" stay distinguishable until Resolve applies the defaults.
// Addresses and prefixes are strings here: parsing them is validation's job,
// so that a bad value is reported with its YAML path instead of as a decode
// error.
//
// Struct tags: `yaml` names the key; `desc` is the description used in the
// JSON schema and the docs; `schema` carries schema facts as a comma list:
// required, nullable, enum=a|b, default=V, min=N, max=N, exclusiveMin=N,
// minItems=N, pattern=RE (pattern must come last, it may contain commas).

// Topology is the root of a topology file.
type Topology struct {
	Lab              LabSpec                        `yaml:"lab,omitempty" desc:"Lab-wide settings."`
	VPCs             map[string]VPCSpec             `yaml:"vpcs" desc:"The VPCs of the lab, by name." schema:"required"`
	GWLBs            map[string]GWLBSpec            `yaml:"gwlbs,omitempty" desc:"Gateway Load Balancers, by name."`
	EndpointServices map[string]EndpointServiceSpec `yaml:"endpoint_services,omitempty" desc:"PrivateLink endpoint services fronting GWLBs, by name."`
	Internet         InternetSpec                   `yaml:"internet,omitempty" desc:"The lab's internet: hosts outside every VPC."`
	TransitGateways  map[string]TransitGatewaySpec  `yaml:"transit_gateways,omitempty" desc:"Transit gateways connecting VPCs, by name."`
	// AutoScalingGroups are in raw_asg.go.
	AutoScalingGroups map[string]AutoScalingGroupSpec `yaml:"autoscaling_groups,omitempty" desc:"EC2 Auto Scaling groups of appliance instances, by name (spec §13)."`
}

// LabSpec holds lab-wide settings.
type LabSpec struct {
	TimeScale  *float64 `yaml:"time_scale,omitempty" desc:"Lab clock speed-up: the emulator's timers (health checks, idle timeouts, deregistration delay) run this many times faster than written: 0.01 to 1000." schema:"default=1,min=0.01,max=1000"`
	LabTimings bool     `yaml:"lab_timings,omitempty" desc:"Accept timing values outside AWS's ranges (each one then gives a warning)." schema:"default=false"`
}

// VPCSpec is one VPC.
type VPCSpec struct {
	CIDR            string                      `yaml:"cidr" desc:"IPv4 CIDR block of the VPC, /16 to /28." schema:"required"`
	IPv6CIDR        string                      `yaml:"ipv6_cidr,omitempty" desc:"IPv6 CIDR block of the VPC (a /56)."`
	InternetGateway string                      `yaml:"internet_gateway,omitempty" desc:"Name of the VPC's internet gateway; omit for a VPC without one."`
	Subnets         map[string]SubnetSpec       `yaml:"subnets,omitempty" desc:"Subnets, by name (unique within the VPC)."`
	RouteTables     map[string]RouteTableSpec   `yaml:"route_tables,omitempty" desc:"Route tables, by name (unique within the VPC). A table named main is the VPC's main route table."`
	NATGateways     map[string]NATGatewaySpec   `yaml:"nat_gateways,omitempty" desc:"Public NAT gateways, by name."`
	Instances       map[string]InstanceSpec     `yaml:"instances,omitempty" desc:"EC2 instances (lab nodes), by name."`
	GWLBEndpoints   map[string]GWLBEndpointSpec `yaml:"gwlb_endpoints,omitempty" desc:"Gateway Load Balancer endpoints, by name."`
}

// SubnetSpec is one subnet of a VPC.
type SubnetSpec struct {
	AZ         string `yaml:"az" desc:"Availability zone (any name, e.g. az1; the same name in two VPCs is the same zone)." schema:"required"`
	CIDR       string `yaml:"cidr" desc:"IPv4 CIDR block, /16 to /28, inside the VPC's CIDR." schema:"required"`
	IPv6CIDR   string `yaml:"ipv6_cidr,omitempty" desc:"IPv6 CIDR block (a /64 inside the VPC's ipv6_cidr)."`
	RouteTable string `yaml:"route_table,omitempty" desc:"Name of the subnet's route table; omitted: the VPC's table named main."`
}

// RouteTableSpec is one route table of a VPC.
type RouteTableSpec struct {
	EdgeAssociation string      `yaml:"edge_association,omitempty" desc:"Name of the VPC's internet gateway this table is edge-associated with (a gateway route table)."`
	Routes          []RouteSpec `yaml:"routes,omitempty" desc:"Routes besides the implicit local route(s)."`
}

// RouteSpec is one route.
type RouteSpec struct {
	Destination string `yaml:"destination" desc:"Destination prefix, e.g. 0.0.0.0/0." schema:"required"`
	Target      string `yaml:"target" desc:"local, blackhole (lab extra: drop and count), the name of an internet gateway, NAT gateway, GWLB endpoint or instance of the same VPC, or of a transit gateway the VPC is attached to." schema:"required"`
}

// NATGatewaySpec is one public NAT gateway.
type NATGatewaySpec struct {
	Subnet    string `yaml:"subnet" desc:"Subnet holding the NAT gateway (a public subnet)." schema:"required"`
	PrivateIP string `yaml:"private_ip,omitempty" desc:"Private address; omitted: the first free address of the subnet."`
	PublicIP  string `yaml:"public_ip,omitempty" desc:"Elastic IP; omitted: the first free address of the lab's public pool."`
}

// InstanceSpec is one EC2 instance: a lab node with one ENI.
type InstanceSpec struct {
	Subnet          string         `yaml:"subnet" desc:"Subnet of the instance's ENI." schema:"required"`
	PrivateIP       string         `yaml:"private_ip,omitempty" desc:"Primary private address; omitted: the first free address of the subnet."`
	PublicIP        string         `yaml:"public_ip,omitempty" desc:"Public (elastic) address, mapped 1:1 by the internet gateway."`
	IPv6Address     string         `yaml:"ipv6_address,omitempty" desc:"IPv6 address in the subnet's ipv6_cidr (the subnet needs one); omitted in a dualstack subnet: the subnet's IPv6 prefix plus the host number of the private IPv4 address (10.0.1.10 in a /24: prefix::a)."`
	SourceDestCheck *bool          `yaml:"source_dest_check,omitempty" desc:"EC2 source/destination check; must be false for an instance that forwards traffic (a route target)." schema:"default=true"`
	Run             *RunSpec       `yaml:"run,omitempty" desc:"What runs in the node; omitted: nothing."`
	Container       *ContainerSpec `yaml:"container,omitempty" desc:"Run the node as a Docker container of this image instead of a bare network namespace."`
}

// ContainerSpec makes a node a Docker container. The field names follow
// docker-compose's, so a service's settings can be copied over.
type ContainerSpec struct {
	Image      string            `yaml:"image" desc:"The image (local: nothing is pulled), e.g. gwlb-lab:latest from make images." schema:"required"`
	Entrypoint []string          `yaml:"entrypoint,omitempty" desc:"Replaces the image's entrypoint (argv)."`
	Command    []string          `yaml:"command,omitempty" desc:"Replaces the image's command (argv); a run section replaces it in turn, with the program of the gwlb-lab image."`
	Env        map[string]string `yaml:"env,omitempty" desc:"Environment variables of the container."`
	CapAdd     []string          `yaml:"cap_add,omitempty" desc:"Capabilities added to the container's (e.g. NET_ADMIN, NET_RAW); privileged is not offered."`
	Devices    []string          `yaml:"devices,omitempty" desc:"Host devices made available, as HOST[:CONTAINER[:PERMISSIONS]] (e.g. /dev/net/tun)."`
	Volumes    []string          `yaml:"volumes,omitempty" desc:"Bind mounts and named volumes, as SOURCE:TARGET[:ro]."`
	WorkingDir string            `yaml:"working_dir,omitempty" desc:"Working directory of the command."`
	User       string            `yaml:"user,omitempty" desc:"User (and group) the command runs as, as user[:group] or uid[:gid]."`
	Sysctls    map[string]string `yaml:"sysctls,omitempty" desc:"Network sysctls set in the node's namespace after the lab wires it, e.g. net.ipv4.ip_forward: \"1\" for an appliance that forwards in its kernel (a container cannot write /proc/sys itself); only net.* keys."`
}

// GWLBEndpointSpec is one Gateway Load Balancer endpoint (VPC endpoint of
// type GatewayLoadBalancer).
type GWLBEndpointSpec struct {
	Subnet    string `yaml:"subnet" desc:"The endpoint's subnet (one subnet, one AZ)." schema:"required"`
	Service   string `yaml:"service" desc:"Name of the endpoint service it connects to." schema:"required"`
	PrivateIP string `yaml:"private_ip,omitempty" desc:"Address of the endpoint's ENI; omitted: the first free address of the subnet."`
}

// GWLBSpec is one Gateway Load Balancer with its single listener and target
// group.
type GWLBSpec struct {
	VPC         string            `yaml:"vpc" desc:"VPC of the load balancer and its targets." schema:"required"`
	Subnets     map[string]string `yaml:"subnets" desc:"Enabled subnets, one per AZ: subnet name -> the node's address (empty or null: the first free address)." schema:"required,nullable"`
	CrossZone   bool              `yaml:"cross_zone,omitempty" desc:"load_balancing.cross_zone.enabled." schema:"default=false"`
	Listener    ListenerSpec      `yaml:"listener,omitempty" desc:"The GWLB's one listener."`
	TargetGroup TargetGroupSpec   `yaml:"target_group" desc:"The target group the listener forwards to." schema:"required"`
	// MaxFlowsPerNode is the lab's: AWS publishes no flow limit.
	MaxFlowsPerNode *int `yaml:"max_flows_per_node,omitempty" desc:"Most flows each GWLB node (one per AZ) holds at once, all its endpoints together; a packet that would start another is dropped and counted as flow_limit, existing flows go on. Lab setting: AWS publishes no limit; each flow costs the emulator about 440 bytes." schema:"default=100000,min=1,max=10000000"`
}

// ListenerSpec holds the listener attributes.
type ListenerSpec struct {
	TCPIdleTimeout            *int `yaml:"tcp_idle_timeout,omitempty" desc:"tcp.idle_timeout.seconds: AWS 60-6000, settable only with 5-tuple stickiness." schema:"default=350"`
	SendTCPResetOnIdleTimeout bool `yaml:"send_tcp_reset_on_idle_timeout,omitempty" desc:"send_tcp_reset.on_idle_timeout.enabled." schema:"default=false"`
}

// TargetGroupSpec is a GENEVE target group (protocol GENEVE, port 6081).
type TargetGroupSpec struct {
	Name                string             `yaml:"name,omitempty" desc:"Target group name: at most 32 alphanumerics or hyphens, not starting or ending with a hyphen; omitted: <gwlb>-tg."`
	TargetType          string             `yaml:"target_type,omitempty" desc:"instance (targets are instance names) or ip (targets are private addresses of instances)." schema:"enum=instance|ip,default=instance"`
	HealthCheck         HealthCheckSpec    `yaml:"health_check,omitempty" desc:"Health check settings."`
	Stickiness          string             `yaml:"stickiness,omitempty" desc:"Flow key: 5-tuple, 3-tuple (AWS source_ip_dest_ip_proto) or 2-tuple (AWS source_ip_dest_ip)." schema:"enum=5-tuple|3-tuple|2-tuple|source_ip_dest_ip_proto|source_ip_dest_ip,default=5-tuple"`
	TargetFailover      TargetFailoverSpec `yaml:"target_failover,omitempty" desc:"target_failover.on_deregistration / on_unhealthy (must be equal)."`
	DeregistrationDelay *int               `yaml:"deregistration_delay,omitempty" desc:"deregistration_delay.timeout_seconds: AWS 0-3600." schema:"default=300"`
	Targets             []string           `yaml:"targets,omitempty" desc:"Registered targets: instance names, or addresses for target_type ip."`
}

// HealthCheckSpec holds the target group's health check settings.
type HealthCheckSpec struct {
	Protocol           string `yaml:"protocol,omitempty" desc:"TCP, HTTP or HTTPS." schema:"enum=TCP|HTTP|HTTPS,default=TCP"`
	Port               *int   `yaml:"port,omitempty" desc:"Health check port, 1-65535." schema:"default=80,min=1,max=65535"`
	Path               string `yaml:"path,omitempty" desc:"HTTP/HTTPS path." schema:"default=/"`
	Interval           *int   `yaml:"interval,omitempty" desc:"Seconds between checks: AWS 5-300, at least timeout." schema:"default=10"`
	Timeout            *int   `yaml:"timeout,omitempty" desc:"Seconds before a check fails: AWS 2-120." schema:"default=5"`
	HealthyThreshold   *int   `yaml:"healthy_threshold,omitempty" desc:"Consecutive successes to become healthy: AWS 2-10." schema:"default=5"`
	UnhealthyThreshold *int   `yaml:"unhealthy_threshold,omitempty" desc:"Consecutive failures to become unhealthy: AWS 2-10." schema:"default=2"`
	Matcher            string `yaml:"matcher,omitempty" desc:"HTTP/HTTPS success codes within 200-399: a code, a range (200-299) or a comma list." schema:"default=200-399"`
}

// TargetFailoverSpec holds the target failover attributes.
type TargetFailoverSpec struct {
	OnDeregistration string `yaml:"on_deregistration,omitempty" desc:"What happens to existing flows of a deregistered target." schema:"enum=no_rebalance|rebalance,default=no_rebalance"`
	OnUnhealthy      string `yaml:"on_unhealthy,omitempty" desc:"What happens to existing flows of an unhealthy target." schema:"enum=no_rebalance|rebalance,default=no_rebalance"`
}

// EndpointServiceSpec is a PrivateLink endpoint service of type
// GatewayLoadBalancer.
type EndpointServiceSpec struct {
	GWLBs              []string `yaml:"gwlbs" desc:"The GWLBs behind the service; an endpoint uses the first one enabled in its AZ." schema:"required,minItems=1"`
	AcceptanceRequired bool     `yaml:"acceptance_required,omitempty" desc:"Endpoints wait in pendingAcceptance until accepted." schema:"default=false"`
}

// InternetSpec is the lab's internet.
type InternetSpec struct {
	Hosts map[string]InternetHostSpec `yaml:"hosts,omitempty" desc:"Hosts on the internet, by name."`
}

// InternetHostSpec is one internet host: a lab node outside every VPC.
type InternetHostSpec struct {
	IP          string         `yaml:"ip" desc:"The host's public address." schema:"required"`
	Segment     string         `yaml:"segment,omitempty" desc:"The host's internet segment (on-link prefix); omitted: the /24 holding ip."`
	Gateway     string         `yaml:"gateway,omitempty" desc:"The segment's router; omitted: the first address after the segment's network address (.1)."`
	IPv6        string         `yaml:"ipv6,omitempty" desc:"The host's public IPv6 address (e.g. in 2001:db8::/32), on-link in its /64; omitted: IPv4 only."`
	IPv6Gateway string         `yaml:"ipv6_gateway,omitempty" desc:"The router of the host's IPv6 /64; omitted: the /64's ::1."`
	Run         *RunSpec       `yaml:"run,omitempty" desc:"What runs in the node; omitted: nothing."`
	Container   *ContainerSpec `yaml:"container,omitempty" desc:"Run the node as a Docker container of this image instead of a bare network namespace."`
}

// RunSpec says what runs in a node: exactly one of its program fields
// (http_echo, command, appliance, reflector), and how its life is managed.
type RunSpec struct {
	HTTPEcho  *HTTPEchoSpec     `yaml:"http_echo,omitempty" desc:"A small HTTP echo server."`
	Command   []string          `yaml:"command,omitempty" desc:"A command (argv) run in the node." schema:"minItems=1"`
	Appliance *ApplianceSpec    `yaml:"appliance,omitempty" desc:"The reference GWLB appliance."`
	Reflector *ReflectorSpec    `yaml:"reflector,omitempty" desc:"An appliance made only of iptables rules that reflect UDP 6081 back to the GWLB."`
	Ready     *ReadySpec        `yaml:"ready,omitempty" desc:"A readiness check up waits for (and node start/restart): the program listens on a TCP port, or a command run in the node exits 0. Omitted: the echo server's, appliance's or reflector's port; nothing for a command."`
	Files     map[string]string `yaml:"files,omitempty" desc:"Files placed in the node's private view before the program starts, as dest: source. source is relative to the topology file; dest is absolute, or relative to the program's working directory. A dest under /run, /var/run or /tmp, or relative, is a copy in the node's own directories; any other dest must exist on the host and is covered, for this node only, by a copy of source."`
	Restart   string            `yaml:"restart,omitempty" desc:"When the program is started again after it exits: never, on-failure (a non-zero exit status or a signal) or always; restarts back off from 100 ms, doubling up to 10 s." schema:"enum=never|on-failure|always,default=never"`
}

// ReadySpec is a readiness check: exactly one of tcp and command.
type ReadySpec struct {
	TCP     *int     `yaml:"tcp,omitempty" desc:"Ready once a TCP connection to this port on the node's loopback succeeds." schema:"min=1,max=65535"`
	Command []string `yaml:"command,omitempty" desc:"Ready once this command (argv), run in the node, exits 0." schema:"minItems=1"`
	Timeout *int     `yaml:"timeout,omitempty" desc:"Seconds up waits before it fails." schema:"default=30,min=1,max=3600"`
}

// HTTPEchoSpec configures the HTTP echo server.
type HTTPEchoSpec struct {
	Port *int `yaml:"port,omitempty" desc:"Listening TCP port." schema:"default=80,min=1,max=65535"`
}

// ApplianceSpec configures the reference appliance.
type ApplianceSpec struct {
	Mode            string             `yaml:"mode,omitempty" desc:"forward: return every packet; firewall: apply rules; tunnel: hand inner packets to the node's kernel through a gwi-/gwo- TUN pair per GWLB endpoint and return what it routes into them, as AWS's gwlbtun does." schema:"enum=forward|firewall|tunnel,default=forward"`
	Hook            string             `yaml:"hook,omitempty" desc:"Mode tunnel only: a shell command run (by sh, in the node's working directory) when an endpoint's tunnel devices are made, with gwlbtun's arguments appended: CREATE (DESTROY when the appliance stops), the inbound device gwi-X, the outbound device gwo-X and the endpoint id in hex, e.g. sh create-route.sh. Omitted: none."`
	HealthPort      *int               `yaml:"health_port,omitempty" desc:"TCP/HTTP health responder port." schema:"default=80,min=1,max=65535"`
	Rules           []FirewallRuleSpec `yaml:"rules,omitempty" desc:"Firewall rules, first match wins (mode firewall only)."`
	DefaultAction   string             `yaml:"default_action,omitempty" desc:"Action when no rule matches (mode firewall only)." schema:"enum=allow|deny,default=allow"`
	FlowLog         bool               `yaml:"flow_log,omitempty" desc:"Log every new inner flow." schema:"default=false"`
	FlowLogMaxBytes *int               `yaml:"flow_log_max_bytes,omitempty" desc:"Size at which the flow log is rotated: the file is renamed to <file>.1 (replacing the previous one) and a new one started, so the log takes at most twice this in /run (RAM)." schema:"default=4194304,min=4096,max=1073741824"`
	Misbehave       *MisbehaveSpec     `yaml:"misbehave,omitempty" desc:"Deliberate protocol violations, for negative tests."`
}

// FirewallRuleSpec is one firewall rule of the reference appliance.
type FirewallRuleSpec struct {
	Action   string `yaml:"action" desc:"allow or deny." schema:"required,enum=allow|deny"`
	CIDR     string `yaml:"cidr,omitempty" desc:"Inner destination prefix the rule matches; omitted: any."`
	Protocol string `yaml:"protocol,omitempty" desc:"Inner protocol." schema:"enum=tcp|udp|icmp|any,default=any"`
	Port     int    `yaml:"port,omitempty" desc:"Inner destination port (tcp or udp only); omitted: any." schema:"min=1,max=65535"`
}

// MisbehaveSpec lists deliberate protocol violations of the reference
// appliance.
type MisbehaveSpec struct {
	AlterCookie   bool `yaml:"alter_cookie,omitempty" desc:"Return a different flow cookie than received."`
	StripOption   int  `yaml:"strip_option,omitempty" desc:"Drop the AWS GENEVE option of this type (1, 2 or 3) from returned packets." schema:"min=1,max=3"`
	VNI           int  `yaml:"vni,omitempty" desc:"Return this (non-zero) VNI instead of 0." schema:"min=1,max=16777215"`
	ReplyFromPort int  `yaml:"reply_from_port,omitempty" desc:"Send returned packets from this UDP source port." schema:"min=1,max=65535"`
	ReflectTCP    bool `yaml:"reflect_tcp,omitempty" desc:"Send every TCP packet the appliance receives (health checks included) back to its sender with the IP addresses swapped, as Snort 3's gwlb DAQ does without a BPF filter."`
	HealthDelayMS int  `yaml:"health_delay_ms,omitempty" desc:"Answer HTTP health checks this many milliseconds late, as a busy appliance does." schema:"min=1,max=60000"`
	Control       bool `yaml:"control,omitempty" desc:"Set the GENEVE O (control) bit of returned packets; a GWLB node drops them (RFC 8926: a control message's payload is not forwarded)."`
}

// ReflectorSpec configures the iptables reflector.
type ReflectorSpec struct {
	HealthPort *int `yaml:"health_port,omitempty" desc:"TCP port answered for health checks." schema:"default=80,min=1,max=65535"`
	// SameAZOnly reproduces spec §6.6 #12: rules only for the GWLB node of
	// the appliance's own AZ, as in AWS's sample, which breaks with
	// cross-zone load balancing.
	SameAZOnly bool `yaml:"same_az_only,omitempty" desc:"Reflect only GENEVE from the GWLB node of the appliance's own AZ (AWS's sample does; with cross-zone on, other zones' flows time out: spec §6.6 #12)."`
}
