package api

import (
	"net/url"
	"strconv"
	"time"
)

// Paths of the control API. Those with {name} take a target's or an
// endpoint's name (see TargetPath and EndpointPath).
const (
	PathStatus    = "/v1/status"    // GET: Status
	PathCounters  = "/v1/counters"  // GET: Counters
	PathFlows     = "/v1/flows"     // GET: Flow lines, then a summary line (see ReadFlows)
	PathEndpoints = "/v1/endpoints" // GET: []Endpoint
	PathTargets   = "/v1/targets"   // GET: []TargetHealth
	PathTrace     = "/v1/trace"     // GET: Trace lines (JSON lines)
	PathCapture   = "/v1/capture"   // GET: a pcap stream
)

// TargetPath is the path that registers or deregisters a target: verb is
// "register" or "deregister"; the answer is a TargetChange.
func TargetPath(target, verb string) string {
	return PathTargets + "/" + url.PathEscape(target) + "/" + verb
}

// EndpointPath is the path that accepts a pending endpoint connection
// (verb "accept"); the answer is an EndpointChange.
func EndpointPath(endpoint, verb string) string {
	return PathEndpoints + "/" + url.PathEscape(endpoint) + "/" + verb
}

// Error is the body of every answer whose status is not 200 OK.
type Error struct {
	Error string `json:"error"`
}

// Status is the emulator's own state.
type Status struct {
	Lab       string    `json:"lab"`
	PID       int       `json:"pid"`
	Started   time.Time `json:"started"`
	Uptime    string    `json:"uptime"`
	TimeScale float64   `json:"time_scale"`
	// Threads is how many threads run the emulator's Go code at once
	// (its GOMAXPROCS; gwlb-lab emulator --procs).
	Threads int       `json:"threads"`
	LabTime time.Time `json:"lab_time"`
	Ports   []Port    `json:"ports"`
}

// Port is one node interface the emulator is attached to.
type Port struct {
	Node      string `json:"node"`
	NetNS     string `json:"netns"`
	Interface string `json:"interface"`
	MAC       string `json:"mac"`
	IP        string `json:"ip"`
}

// Counters is a snapshot of the emulator's counters.
type Counters struct {
	Ports []PortCounters `json:"ports"`
	// Drops counts dropped packets by reason; every reason is listed, zero
	// or not, so scripts can rely on the keys.
	Drops map[string]uint64 `json:"drops"`
	// NATConnections counts tracked connections per NAT gateway.
	NATConnections map[string]int `json:"nat_connections,omitempty"`
	// GWLB holds each GWLB node's metrics, named as CloudWatch names them.
	GWLB []GWLBMetrics `json:"gwlb,omitempty"`
}

// PortCounters are one node port's packet and byte counts, as the emulator
// sees them (rx: from the node; tx: to the node).
type PortCounters struct {
	Node    string `json:"node"`
	RxPkts  uint64 `json:"rx_packets"`
	RxBytes uint64 `json:"rx_bytes"`
	TxPkts  uint64 `json:"tx_packets"`
	TxBytes uint64 `json:"tx_bytes"`
	// TAP holds what the kernel dropped at the node's TAP since the
	// emulator opened it (nil for ports without a kernel queue);
	// TAPError says why it could not be read.
	TAP      *QueueDrops `json:"tap_drops,omitempty"`
	TAPError string      `json:"tap_error,omitempty"`
	// Link is the link's impairment (gwlb-lab link set), nil when it has
	// none.
	Link *PortLink `json:"link,omitempty"`
	// WriteErrors counts frames the emulator could not write to the port
	// (each is also a port_write_failed drop); WriteError is the first
	// such error. ReadError is why the emulator stopped reading the port,
	// after which nothing the node sends is forwarded: restart the
	// emulator (gwlb-lab emulator restart).
	WriteErrors uint64 `json:"write_errors,omitempty"`
	WriteError  string `json:"write_error,omitempty"`
	ReadError   string `json:"read_error,omitempty"`
	// Offload is what the port's TAP negotiated with the node's kernel
	// and did with it (nil for ports without a TAP).
	Offload *PortOffload `json:"offload,omitempty"`
	// QueueFull counts frames for the node dropped because its port's
	// write queue was full (each is also a port_queue_full drop): the
	// node's port takes frames more slowly than the lab sends them.
	QueueFull uint64 `json:"queue_full,omitempty"`
}

// PortOffload is a TAP port's segmentation offloads as status shows them.
type PortOffload struct {
	// Negotiated lists what the node's kernel accepted, e.g.
	// "vnet_hdr,csum,tso4,tso6,uso4,uso6", or says "none (why)".
	Negotiated string `json:"negotiated"`
	// SuperFrames are the GSO frames (up to 64 KB) the node handed over,
	// Segments the packets they were split into before forwarding.
	SuperFrames uint64 `json:"super_frames"`
	Segments    uint64 `json:"segments"`
	// Dropped are frames from the node that could not be split.
	Dropped uint64 `json:"dropped,omitempty"`
	// Coalesced are writes toward the node that carried a run of TCP
	// segments as one GSO frame; CoalesceOff is why that stopped.
	Coalesced   uint64 `json:"coalesced_writes"`
	CoalesceOff string `json:"coalesce_off,omitempty"`
	// CoalescedUDP are writes that carried a run of UDP datagrams as one
	// USO frame (ports of nodes that read through UDP sockets: the
	// reference appliance in forward and firewall modes); CoalesceUDPOff
	// is why that is off on such a port.
	CoalescedUDP   uint64 `json:"coalesced_udp_writes,omitempty"`
	CoalesceUDPOff string `json:"coalesce_udp_off,omitempty"`
}

// PortLink is a port's link impairment as status shows it.
type PortLink struct {
	Down        bool    `json:"down,omitempty"`
	LossPercent float64 `json:"loss_percent,omitempty"`
	Delay       string  `json:"delay,omitempty"`
	Jitter      string  `json:"jitter,omitempty"`
}

// QueueDrops are the kernel's drop counters of one TAP interface.
type QueueDrops struct {
	TxDropped uint64 `json:"tx_dropped"`
	RxDropped uint64 `json:"rx_dropped"`
}

// GWLBMetrics are one GWLB node's counters, named as CloudWatch names them.
// NewFlowCount and ProcessedBytes count since the emulator started.
type GWLBMetrics struct {
	GWLB               string `json:"gwlb"`
	Node               string `json:"node"`
	AZ                 string `json:"az"`
	ActiveFlowCount    int    `json:"ActiveFlowCount"`
	NewFlowCount       uint64 `json:"NewFlowCount"`
	ProcessedBytes     uint64 `json:"ProcessedBytes"`
	HealthyHostCount   int    `json:"HealthyHostCount"`
	UnHealthyHostCount int    `json:"UnHealthyHostCount"`
	// PeakBytesPerSecond and PeakPacketsPerSecond are the highest 10-second
	// averages, in lab seconds, since the emulator started.
	PeakBytesPerSecond   int64 `json:"PeakBytesPerSecond"`
	PeakPacketsPerSecond int64 `json:"PeakPacketsPerSecond"`
	// MaxFlows is the node's flow limit (max_flows_per_node); new flows
	// beyond it are dropped as flow_limit.
	MaxFlows int               `json:"max_flows"`
	Drops    map[string]uint64 `json:"drops"`
}

// GWLBDrops sums the drop counters of every GWLB node.
func (c Counters) GWLBDrops() map[string]uint64 {
	sum := map[string]uint64{}
	for _, m := range c.GWLB {
		for k, v := range m.Drops {
			sum[k] += v
		}
	}
	return sum
}

// Port returns the counters of one node's port, and whether it has one.
func (c Counters) Port(node string) (PortCounters, bool) {
	for _, p := range c.Ports {
		if p.Node == node {
			return p, true
		}
	}
	return PortCounters{}, false
}

// Endpoint is a GWLB endpoint.
type Endpoint struct {
	Name    string `json:"name"`
	ID      string `json:"id"`
	Subnet  string `json:"subnet"`
	AZ      string `json:"az"`
	Service string `json:"service"`
	GWLB    string `json:"gwlb,omitempty"`
	Node    string `json:"gwlb_node,omitempty"`
	// State is available or pendingAcceptance, as AWS names them.
	State string `json:"state"`
}

// Endpoint states.
const (
	EndpointAvailable         = "available"
	EndpointPendingAcceptance = "pendingAcceptance"
)

// TargetHealth is one target as one GWLB node sees it.
type TargetHealth struct {
	GWLB     string `json:"gwlb"`
	Node     string `json:"node"`
	AZ       string `json:"az"`
	Target   string `json:"target"`
	IP       string `json:"ip"`
	TargetAZ string `json:"target_az"`
	// State is one of the Target states below; Reason is AWS's reason
	// code for a state other than healthy.
	State     string `json:"state"`
	Reason    string `json:"reason,omitempty"`
	LastProbe string `json:"last_probe,omitempty"`
	LastError string `json:"last_error,omitempty"`
	// ForcedFailure says the node's checks of the target are forced to
	// fail (gwlb-lab targets fail-health).
	ForcedFailure bool `json:"forced_failure,omitempty"`
}

// Target states, as AWS names them.
const (
	TargetInitial   = "initial"
	TargetHealthy   = "healthy"
	TargetUnhealthy = "unhealthy"
	TargetDraining  = "draining"
	TargetUnused    = "unused"
)

// TargetChange answers a register or deregister request: the target and
// the state it is now in (initial after register, draining after
// deregister).
type TargetChange struct {
	Target string `json:"target"`
	State  string `json:"state"`
}

// EndpointChange answers an accept request.
type EndpointChange struct {
	Endpoint string `json:"endpoint"`
	State    string `json:"state"`
}

// Trace is the story of one packet through the lab: where it came in, each
// decision taken for it, and how it ended. The trace stream sends one per
// line.
type Trace struct {
	Time time.Time `json:"time"`
	// From is the node whose port the packet came in on.
	From string `json:"from"`
	// Packet describes the packet as it arrived.
	Packet string   `json:"packet"`
	Hops   []string `json:"hops"`
	// Result is "delivered to NODE" or "dropped: REASON".
	Result string `json:"result"`
}

// Limits bound a stream (trace, capture): it ends after Count items (0:
// no limit) or after Seconds of wall time (0: no limit), or when the
// client goes away.
type Limits struct {
	Count   int
	Seconds float64
}

// add puts the limits into q.
func (l Limits) add(q url.Values) {
	if l.Count > 0 {
		q.Set("count", strconv.Itoa(l.Count))
	}
	if l.Seconds > 0 {
		q.Set("seconds", strconv.FormatFloat(l.Seconds, 'f', -1, 64))
	}
}

// TraceQuery is the query of a trace stream: packets to or from any of
// Hosts (addresses; none traces every packet).
func TraceQuery(hosts []string, l Limits) url.Values {
	q := url.Values{}
	for _, h := range hosts {
		q.Add("host", h)
	}
	l.add(q)
	return q
}

// CaptureQuery is the query of a capture of one node's port.
func CaptureQuery(node string, l Limits) url.Values {
	q := url.Values{"node": {node}}
	l.add(q)
	return q
}
