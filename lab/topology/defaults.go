package topology

import (
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
)

// AWS's defaults and ranges (spec §3.3, §4.1, §4.4, §4.5, §4.6, §8). The
// schema's default= tags repeat these numbers for editors; a test keeps the
// two in step.
const (
	DefaultTimeScale = 1.0

	DefaultHealthCheckProtocol = "TCP"
	DefaultHealthCheckPort     = 80
	DefaultHealthCheckPath     = "/"
	DefaultHealthCheckInterval = 10 * time.Second
	DefaultHealthCheckTimeout  = 5 * time.Second
	DefaultHealthyThreshold    = 5
	DefaultUnhealthyThreshold  = 2
	DefaultMatcher             = "200-399"

	DefaultStickiness          = FiveTuple
	DefaultTargetFailover      = NoRebalance
	DefaultDeregistrationDelay = 300 * time.Second
	DefaultTCPIdleTimeout      = 350 * time.Second
	DefaultTargetType          = TargetTypeInstance

	DefaultHTTPEchoPort    = 80
	DefaultHealthPort      = 80
	DefaultApplianceMode   = ApplianceForward
	DefaultFirewallAction  = "allow"
	DefaultSourceDestCheck = true
	DefaultRestart         = RestartNever
	DefaultReadyTimeout    = 30 // seconds

	// DefaultMaxFlowsPerNode is the lab's flow limit per GWLB node: AWS
	// publishes none (see config.DefaultMaxFlowsPerNode for the choice).
	DefaultMaxFlowsPerNode = config.DefaultMaxFlowsPerNode
	// DefaultFlowLogMaxBytes is where an appliance's flow log rotates:
	// a few MiB hold tens of thousands of records, and /run is RAM.
	DefaultFlowLogMaxBytes = 4 << 20

	// GENEVE target groups always use UDP 6081 (spec §1).
	TargetGroupProtocol = "GENEVE"
	TargetGroupPort     = 6081

	// UDPIdleTimeout is the fixed idle timeout of non-TCP flows (spec §3.3).
	UDPIdleTimeout = 120 * time.Second

	// VPCMTU is the MTU of every VPC ENI (EC2's jumbo frames); InternetMTU that
	// of internet hosts.
	VPCMTU      = 9001
	InternetMTU = 1500
)

// AWS's ranges, in seconds or counts.
const (
	minHealthCheckInterval = 5
	maxHealthCheckInterval = 300
	minHealthCheckTimeout  = 2
	maxHealthCheckTimeout  = 120
	minThreshold           = 2
	maxThreshold           = 10
	minTCPIdleTimeout      = 60
	maxTCPIdleTimeout      = 6000
	minDeregistrationDelay = 0
	maxDeregistrationDelay = 3600
	maxTargetGroupName     = 32

	// Quotas of spec §8 that a topology file can exceed.
	maxTargetsPerGWLB      = 300
	maxGWLBsPerVPC         = 100
	maxEndpointsPerVPC     = 50
	minFreeGWLBSubnetAddrs = 8

	// Lab limits: a flow table of maxFlowsPerNode flows takes about 4.4 GB;
	// a flow log below minFlowLogMaxBytes would rotate every few records.
	maxFlowsPerNode    = 10_000_000
	minFlowLogMaxBytes = 4096
	maxFlowLogMaxBytes = 1 << 30

	// AWS accepts subnets and VPC blocks from /16 to /28.
	minVPCPrefixBits = 16
	maxVPCPrefixBits = 28
)
