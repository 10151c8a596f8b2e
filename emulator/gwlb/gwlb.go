package gwlb

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/flow"
	"github.com/gwlb-lab/gwlb-lab/emulator/health"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// Outer header choices for GENEVE towards targets. AWS documents none of
// them (spec §11 q2); these are what a VPC host sends by default, and the
// UDP checksum is left 0, which RFC 8926 allows over IPv4.
const (
	OuterTTL = 64
	OuterDF  = true
)

// Target is a registered target of the load balancer's target group.
type Target struct {
	Name  string
	IP    netip.Addr
	AZ    string
	index int
	// deregistered is 0 while the target is registered, else the lab time
	// (since the LB's epoch, plus one) at which it was deregistered.
	deregistered atomic.Int64
}

// Index is the target's position in the target group.
func (t *Target) Index() int { return t.index }

// LB is one Gateway Load Balancer.
type LB struct {
	Name string
	cfg  config.GWLB
	mode flow.Mode
	// targets holds the target group's targets, indexed by Target.index.
	// It only grows (Add, under mu): a flow's target index stays valid, and
	// the data path loads it without a lock.
	targets atomic.Pointer[[]*Target]
	mu      sync.Mutex // serializes Add
	enabled map[string]bool
	nodes   []*Node
	epoch   time.Time
}

// MaxTargets is how many targets a target group can have, those of the
// configuration and those registered at run time together: AWS's quota of
// 300 targets per Gateway Load Balancer (spec §8), which validation also
// enforces. Each GWLB node keeps its per-target state in arrays of that
// size, so that adding a target never moves what the data path reads.
const MaxTargets = 300

// Node is the load balancer's node in one AZ.
type Node struct {
	lb   *LB
	Name string
	AZ   string
	IP   netip.Addr
	MAC  packet.MAC
	// candidates are the targets this node balances over: its zone's, or
	// every zone's with cross-zone load balancing (spec §4.6). Replaced,
	// never changed in place, when a target is added.
	candidates atomic.Pointer[[]*Target]
	// notInUse are the targets in AZs the load balancer does not enable:
	// listed by Targets as unused, never given a flow or a health check.
	// Guarded by statusMu.
	notInUse []*Target
	// health is each target's state (a health.State) as this node's checks
	// decided, indexed like lb.targets; status holds the details.
	health []atomic.Uint32
	// failing marks the targets whose health checks from this node are
	// forced to fail (ForceFail), indexed like lb.targets.
	failing   []atomic.Bool
	statusMu  sync.Mutex
	status    []health.Status
	tables    map[uint64]*flow.Table // by endpoint number
	limit     *flow.Limit            // shared by tables: max_flows_per_node
	cookieSeq atomic.Uint64
	seed      uint64
	// own are the connections the node's namespace opened (its health
	// checks): the only non-GENEVE traffic it is given (see Admit).
	own *ownConns
	// frags keeps IPv4 fragments of one datagram on one flow (frag.go).
	frags frags

	newFlows         atomic.Uint64
	processedBytes   atomic.Uint64
	processedPackets atomic.Uint64
	drops            [numReasons]atomic.Uint64
	peaks            peaks
}

// New builds a load balancer from its configuration. endpoints lists, per
// AZ, the numbers (GENEVE option 1 values) of the endpoints whose traffic
// the node of that AZ carries. epoch is the lab time that flow timestamps
// count from.
func New(cfg config.GWLB, endpoints map[string][]uint64, epoch time.Time) (*LB, error) {
	lb := &LB{Name: cfg.Name, cfg: cfg, epoch: epoch}
	switch cfg.TargetGroup.Stickiness {
	case "", "5-tuple":
		lb.mode = flow.FiveTuple
	case "3-tuple":
		lb.mode = flow.ThreeTuple
	case "2-tuple":
		lb.mode = flow.TwoTuple
	default:
		return nil, fmt.Errorf("gwlb %q: unknown stickiness %q", cfg.Name, cfg.TargetGroup.Stickiness)
	}
	if len(cfg.TargetGroup.Targets) > MaxTargets {
		return nil, fmt.Errorf("gwlb %q: %d targets, at most %d", cfg.Name, len(cfg.TargetGroup.Targets), MaxTargets)
	}
	targets := make([]*Target, 0, len(cfg.TargetGroup.Targets))
	for i, tc := range cfg.TargetGroup.Targets {
		targets = append(targets, &Target{Name: tc.Name, IP: tc.IP, AZ: tc.AZ, index: i})
	}
	lb.targets.Store(&targets)
	tcpIdle := time.Duration(cfg.TCPIdleTimeout) * time.Second
	// A target in an AZ the load balancer does not enable is never a
	// candidate, cross-zone or not: AWS leaves it unused (Target.NotInUse,
	// spec §4.2) and does not check its health.
	enabled := map[string]bool{}
	for _, nc := range cfg.Nodes {
		enabled[nc.AZ] = true
	}
	lb.enabled = enabled
	maxFlows := cfg.MaxFlowsPerNode
	if maxFlows == 0 {
		maxFlows = config.DefaultMaxFlowsPerNode
	}
	for i, nc := range cfg.Nodes {
		limit, err := flow.NewLimit(maxFlows)
		if err != nil {
			return nil, fmt.Errorf("gwlb %q node %q: %w", cfg.Name, nc.Name, err)
		}
		n := &Node{lb: lb, Name: nc.Name, AZ: nc.AZ, IP: nc.IP, MAC: packet.MAC(nc.MAC), tables: map[uint64]*flow.Table{}, own: newOwnConns(), limit: limit}
		n.seed = seedOf(cfg.Name, nc.Name)
		var candidates []*Target
		for _, t := range targets {
			switch {
			case !enabled[t.AZ]:
				n.notInUse = append(n.notInUse, t)
			case cfg.CrossZone || t.AZ == nc.AZ:
				candidates = append(candidates, t)
			}
		}
		n.candidates.Store(&candidates)
		// Targets of a lab that starts are initial, as on AWS: no new
		// flow goes to them before their first check passes (a flow
		// chosen while none is healthy is pinned and dropped; spec §4.2,
		// §4.3, §11 q9).
		n.health = make([]atomic.Uint32, MaxTargets)
		n.failing = make([]atomic.Bool, MaxTargets)
		n.status = make([]health.Status, MaxTargets)
		for i := range n.health {
			n.health[i].Store(uint32(health.Initial))
			n.status[i].State = health.Initial
		}
		for _, ep := range endpoints[nc.AZ] {
			// One limit for all of the node's tables: the cap is the node's,
			// whichever endpoint a flow came through.
			ft, err := flow.New(flow.Config{Mode: lb.mode, TCPIdleTimeout: tcpIdle, Seed: n.seed + uint64(i), Limit: limit})
			if err != nil {
				return nil, fmt.Errorf("gwlb %q node %q: %w", cfg.Name, nc.Name, err)
			}
			n.tables[ep] = ft
		}
		lb.nodes = append(lb.nodes, n)
	}
	return lb, nil
}

// seedOf derives a stable hash seed from names, so a lab's choices replay.
func seedOf(parts ...string) uint64 {
	h := uint64(14695981039346656037)
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			h ^= uint64(p[i])
			h *= 1099511628211
		}
		h ^= 0xff
	}
	return h
}

// Nodes returns the load balancer's nodes.
func (lb *LB) Nodes() []*Node { return lb.nodes }

// Targets returns the target group's targets, registered or not.
func (lb *LB) Targets() []*Target { return *lb.targets.Load() }

// target returns the target of an index a flow holds.
func (lb *LB) targetAt(i int) *Target { return (*lb.targets.Load())[i] }

// Node returns the node of an AZ, or nil.
func (lb *LB) Node(az string) *Node {
	for _, n := range lb.nodes {
		if n.AZ == az {
			return n
		}
	}
	return nil
}

func (lb *LB) since(now time.Time) time.Duration { return now.Sub(lb.epoch) }

// Decision is what to do with a packet a node forwards to a target.
type Decision struct {
	Target *Target
	// Params are the outer headers and options; MACs are the fabric's to
	// fill in when it delivers the frame.
	Params packet.EncapParams
	// Reset asks the caller to answer the sender with a TCP RST (the
	// packet was a non-SYN without a flow and send_tcp_reset is on).
	Reset bool
	// Dropped says why the packet was dropped, when Forward's ok is false.
	Dropped Reason
	// NewFlow is set when the packet created its flow; Moved when target
	// failover moved the flow to Target.
	NewFlow, Moved bool
	// Held is set, with ok false, when the packet is a later fragment kept
	// until its datagram's first fragment arrives: not a drop.
	Held bool
	// Release names held fragments of the datagram whose first fragment
	// this is, for the caller to send after it (TakeHeld).
	Release Release
}

// Forward decides where a packet that arrived through endpoint ep goes. It
// creates a flow for a new TCP SYN or any non-TCP packet, and keeps every
// later packet of the flow, in either direction, on the same target with
// the same cookie and outer source port. ok is false when the packet is
// dropped (and counted); Reset may then still be set.
func (n *Node) Forward(inner []byte, ep uint64, now time.Time) (d Decision, ok bool) {
	fk, info, err := packet.ParseFlow(inner)
	return n.ForwardFlow(inner, fk, info, err, ep, now)
}

// ForwardFlow is Forward for a caller that has parsed the inner packet
// already (packet.ParseFlow's results), so the packet is parsed once.
func (n *Node) ForwardFlow(inner []byte, fk packet.FlowKey, info packet.FlowInfo, parseErr error, ep uint64, now time.Time) (d Decision, ok bool) {
	if parseErr != nil {
		d.Dropped = n.drop(DropMalformed)
		return d, false
	}
	ft := n.tables[ep]
	if ft == nil {
		d.Dropped = n.drop(DropReturnUnknownEndpoint)
		return d, false
	}
	at := n.lb.since(now)
	if !n.tracked(fk, info) {
		return n.forward(inner, fk, info, ft, ep, at)
	}
	fr := fragKeyOf(ep, inner, fk)
	if info.Fragment == packet.LaterFragment {
		// No ports: the datagram's first fragment names the flow.
		rec, ok := n.frags.lookup(fr, at)
		switch {
		case !ok && n.frags.hold(fr, inner, at):
			d.Held = true
			return d, false
		case !ok:
			d.Dropped = n.drop(DropFragmentOrphaned)
			return d, false
		case rec.dropped:
			// The first fragment was dropped: so is the rest.
			d.Dropped = n.drop(rec.why)
			return d, false
		}
		return n.forward(inner, rec.fk, info, ft, ep, at)
	}
	d, ok = n.forward(inner, fk, info, ft, ep, at)
	if ok {
		d.Release = Release{k: fr, ok: n.frags.record(fr, fk, at)}
	} else if freed := n.frags.recordDrop(fr, d.Dropped, at); freed > 0 {
		n.drops[d.Dropped].Add(uint64(freed))
	}
	return d, ok
}

// forward is ForwardFlow for a packet whose flow key is known (a later
// fragment's is its first fragment's).
func (n *Node) forward(inner []byte, fk packet.FlowKey, info packet.FlowInfo, ft *flow.Table, ep uint64, at time.Duration) (d Decision, ok bool) {
	e, _, found := ft.Touch(fk, at, len(inner))
	if !found {
		if fk.Proto == packet.ProtoTCP && !isSYN(info) {
			d.Dropped = n.drop(DropTCPNoFlow)
			d.Reset = n.lb.cfg.SendTCPReset
			return d, false
		}
		t, pinned := n.choose(ft.Hash(fk), at)
		if t == nil {
			d.Dropped = n.drop(DropNoTarget)
			return d, false
		}
		var (
			created bool
			err     error
		)
		e, _, created, err = ft.Insert(fk, at, t.index, n.cookie(), len(inner))
		if err != nil {
			// The node's flow limit: existing flows go on, new ones wait
			// for room (expiry frees it).
			d.Dropped = n.drop(DropFlowLimit)
			return d, false
		}
		if created {
			d.NewFlow = true
			n.newFlows.Add(1)
			if pinned {
				ft.Retarget(fk, at, t.index, true)
				e.Pinned = true
			}
		}
	} else if t := n.lb.targetAt(e.Target); !e.Pinned && n.rebalance(t, at) {
		// Target failover with rebalance: the flow moves to a healthy
		// target, mid-stream (spec §4.4).
		if nt, pinned := n.choose(ft.Hash(fk), at); nt != nil && !pinned && nt != t {
			ft.Retarget(fk, at, nt.index, false)
			e.Target = nt.index
			d.Moved = true
		}
	}
	t := n.lb.targetAt(e.Target)
	if e.Pinned && !n.healthy(t) {
		// Chosen while no target was healthy: dropped until it is (spec §4.3).
		d.Dropped = n.drop(DropTargetUnavailable)
		return d, false
	}
	d.Target = t
	d.Params = packet.EncapParams{
		Src: n.IP, Dst: t.IP, SrcPort: e.OuterPort, TTL: OuterTTL, DF: OuterDF,
		Options: packet.AWSOptions{EndpointID: ep, Cookie: e.Cookie},
	}
	n.processedBytes.Add(uint64(len(inner) + packet.EncapOverhead))
	n.processedPackets.Add(1)
	return d, true
}

// isSYN reports a TCP SYN without ACK: the only packet that creates a TCP
// flow (spec §3.3).
func isSYN(info packet.FlowInfo) bool {
	return info.TCPFlags&packet.TCPFlagSYN != 0 && info.TCPFlags&packet.TCPFlagACK == 0
}

// cookie returns a fresh 32-bit flow cookie: a counter run through a
// mixing function, so cookies look random and never repeat soon.
func (n *Node) cookie() uint32 {
	x := n.seed + n.cookieSeq.Add(1)*0x9e3779b97f4a7c15
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return uint32(x)
}

// Return validates a frame a target sent back to this node (spec §2.4): the
// GENEVE header must carry VNI 0 and the three AWS options, the endpoint id
// and cookie must match a live flow of this node, and the sender must be
// that flow's target. The outer UDP source port is not checked: appliances
// differ in what they send (spec §12). On success it returns the endpoint
// the inner packet leaves through.
func (n *Node) ReturnWhy(d packet.Decapped, decapErr error, now time.Time) (ep uint64, dropped Reason, ok bool) {
	if decapErr != nil {
		return 0, n.drop(returnReason(decapErr)), false
	}
	if d.Geneve.OAM() {
		// A control message is for the receiving tunnel endpoint, never
		// to be forwarded (RFC 8926 §3.4); GWLB sends none itself.
		return 0, n.drop(DropReturnControl), false
	}
	if d.Geneve.VNI() != 0 {
		return 0, n.drop(DropReturnVNI), false
	}
	ft := n.tables[d.Options.EndpointID]
	if ft == nil {
		return 0, n.drop(DropReturnUnknownEndpoint), false
	}
	fk, info, err := packet.ParseFlow(d.Inner)
	if err != nil {
		return 0, n.drop(DropMalformed), false
	}
	at := n.lb.since(now)
	if n.tracked(fk, info) && info.Fragment == packet.LaterFragment {
		rec, ok := n.frags.lookup(fragKeyOf(d.Options.EndpointID, d.Inner, fk), at)
		if !ok || rec.dropped {
			return 0, n.drop(DropReturnUnknownFlow), false
		}
		fk = rec.fk
	}
	e, _, found := ft.Lookup(fk, at)
	switch {
	case !found:
		return 0, n.drop(DropReturnUnknownFlow), false
	case e.Cookie != d.Options.Cookie:
		return 0, n.drop(DropReturnCookieMismatch), false
	case n.lb.targetAt(e.Target).IP != d.Outer.Src():
		return 0, n.drop(DropReturnWrongTarget), false
	}
	// The packet was counted on its way to the target; coming back it
	// only adds to ProcessedBytes, which counts both ways.
	n.processedBytes.Add(uint64(len(d.Inner) + packet.EncapOverhead))
	n.processedPackets.Add(1)
	return d.Options.EndpointID, 0, true
}

// Return is ReturnWhy without the reason.
func (n *Node) Return(d packet.Decapped, decapErr error, now time.Time) (ep uint64, ok bool) {
	ep, _, ok = n.ReturnWhy(d, decapErr, now)
	return ep, ok
}

// returnReason maps a decapsulation error to a drop reason.
func returnReason(err error) Reason {
	switch {
	case errors.Is(err, packet.ErrAWSOptionMissing):
		return DropReturnOptionMissing
	case errors.Is(err, packet.ErrAWSOptionLength):
		return DropReturnOptionLength
	case errors.Is(err, packet.ErrAWSOptionDuplicate):
		return DropReturnOptionDuplicate
	case errors.Is(err, packet.ErrCriticalOption):
		return DropReturnCriticalOption
	}
	return DropReturnMalformed
}

func (n *Node) drop(r Reason) Reason {
	n.drops[r].Add(1)
	return r
}

// Drops returns the count for one reason.
func (n *Node) Drops(r Reason) uint64 { return n.drops[r].Load() }

// Sample records the node's traffic totals for the peak-rate metrics; the
// fabric calls it about once a second.
func (n *Node) Sample(now time.Time) {
	n.peaks.add(now, n.processedBytes.Load(), n.processedPackets.Load())
}

// Expire removes idle flows.
func (n *Node) Expire(now time.Time) {
	at := n.lb.since(now)
	for _, ft := range n.tables {
		ft.Expire(at, nil)
	}
	if k := n.frags.expire(at); k > 0 {
		n.drops[DropFragmentOrphaned].Add(uint64(k))
	}
}

// Metrics returns the node's counters. NewFlowCount and ProcessedBytes count
// since the emulator started (CloudWatch sums them per period).
func (n *Node) Metrics(now time.Time) api.GWLBMetrics {
	at := n.lb.since(now)
	m := api.GWLBMetrics{GWLB: n.lb.Name, Node: n.Name, AZ: n.AZ, NewFlowCount: n.newFlows.Load(),
		ProcessedBytes: n.processedBytes.Load(), Drops: map[string]uint64{}}
	for _, ft := range n.tables {
		m.ActiveFlowCount += ft.Live(at)
	}
	m.MaxFlows = n.limit.Max()
	for _, t := range n.Candidates() {
		if n.lb.registration(t, at) != registered {
			continue
		}
		switch health.State(n.health[t.index].Load()) {
		case health.Healthy:
			m.HealthyHostCount++
		case health.Unhealthy:
			m.UnHealthyHostCount++
		}
	}
	for r := range numReasons {
		m.Drops[r.String()] = n.drops[r].Load()
	}
	pb, pp := n.peaks.get()
	m.PeakBytesPerSecond, m.PeakPacketsPerSecond = int64(pb), int64(pp)
	return m
}

// ForgetHost removes the flows of endpoint's table with addr at either end
// (a node that left the lab) and returns how many it removed; 0 when the
// node has no table for the endpoint.
func (n *Node) ForgetHost(endpoint uint64, addr netip.Addr) int {
	ft := n.tables[endpoint]
	if ft == nil {
		return 0
	}
	return ft.DeleteFunc(func(e flow.Entry) bool { return e.Key.Src == addr || e.Key.Dst == addr })
}
