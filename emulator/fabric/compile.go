package fabric

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/gwlb"
	"github.com/gwlb-lab/gwlb-lab/emulator/route"
)

// hopKind is what a route sends a packet to.
type hopKind uint8

const (
	hopLocal hopKind = iota
	hopIGW
	hopNAT
	hopEndpoint
	hopInstance
	hopBlackhole
	hopTGW
)

// hop is a compiled route target.
type hop struct {
	kind hopKind
	nat  *natGW
	ep   *endpoint
	eni  *eni
	tgw  *tgw
}

// addrKind says what owns an address inside a VPC.
type addrKind uint8

const (
	ownerENI addrKind = iota + 1
	ownerNAT
	ownerEndpoint
	ownerGWLBNode
	ownerTGW // a transit gateway attachment's ENI
)

type owner struct {
	kind addrKind
	eni  *eni
	nat  *natGW
	ep   *endpoint
	node *gwlb.Node
}

// runtime is the state that outlives a compiled configuration: load
// balancers with their flow tables, NAT gateways' connection tables, and
// endpoint acceptance. A configuration recompiled at run time (a route
// edit, routes.go) takes them from here, so established flows go on.
type runtime struct {
	lbs      map[string]*gwlb.LB
	accepted map[string]*atomic.Bool
	nats     map[natName]*natTable
	tgw      map[attKey]*attCounters // transit gateway attachments (tgwapi.go)
}

// natName names a NAT gateway: names are unique within a VPC.
type natName struct{ vpc, name string }

func newRuntime(s *config.Snapshot, epoch time.Time, timeouts natTimeouts) (*runtime, error) {
	rt := &runtime{lbs: map[string]*gwlb.LB{}, accepted: map[string]*atomic.Bool{}, nats: map[natName]*natTable{}, tgw: newTGWCounters(s)}
	byLB := map[string]map[string][]uint64{} // gwlb -> az -> endpoint numbers
	for _, v := range s.VPCs {
		for _, n := range v.NATGateways {
			rt.nats[natName{v.Name, n.Name}] = newNATTable(timeouts)
		}
		for _, ep := range v.Endpoints {
			a := &atomic.Bool{}
			a.Store(ep.Accepted)
			rt.accepted[ep.Name] = a
			if ep.GWLB == "" {
				continue
			}
			num, err := config.EndpointNumber(ep.ID)
			if err != nil {
				return nil, err
			}
			if byLB[ep.GWLB] == nil {
				byLB[ep.GWLB] = map[string][]uint64{}
			}
			byLB[ep.GWLB][ep.AZ] = append(byLB[ep.GWLB][ep.AZ], num)
		}
	}
	for _, g := range s.GWLBs {
		lb, err := gwlb.New(g, byLB[g.Name], epoch)
		if err != nil {
			return nil, err
		}
		rt.lbs[g.Name] = lb
	}
	return rt, nil
}

// lab is the compiled form of a config.Snapshot: the lookup structures the
// data plane walks. It is immutable once built.
type lab struct {
	snap      *config.Snapshot
	endpoints map[uint64]*endpoint // by number
	vpcs      []*vpc
	enis      map[string]*eni // by node name
	public    map[netip.Addr]publicAddr
	inet      map[netip.Addr]*eni // internet hosts by address
	segments  []*segment
}

// publicAddr is one 1:1 mapping of an internet gateway.
type publicAddr struct {
	vpc     *vpc
	private netip.Addr
}

type vpc struct {
	name    string
	cidrs   []netip.Prefix
	cidr6   netip.Prefix // the IPv6 CIDR; zero for an IPv4-only VPC
	igw     string
	edge    *route.Table[hop] // nil without an edge association
	edgeRT  string            // the edge table's name, for traces
	subnets []*subnet
	owners  map[netip.Addr]owner
	// private → public, for the IGW's outbound translation.
	publicOf map[netip.Addr]netip.Addr
}

type subnet struct {
	name      string
	az        string
	cidr      netip.Prefix
	cidr6     netip.Prefix // zero for an IPv4-only subnet
	router    netip.Addr
	router6   netip.Addr // prefix::1 when cidr6 is set
	routerMAC [6]byte
	table     *route.Table[hop]
	tableName string
	vpc       *vpc
	byMAC     map[[6]byte]*eni
	byIP      map[netip.Addr]*eni
}

// segment is an internet L2 segment.
type segment struct {
	cidr      netip.Prefix
	router    netip.Addr
	routers6  []netip.Addr // one per IPv6 on-link prefix
	routerMAC [6]byte
	byMAC     map[[6]byte]*eni
	byIP      map[netip.Addr]*eni
}

type eni struct {
	cfg     config.ENI
	mac     [6]byte
	router6 netip.Addr // the IPv6 router of the ENI's on-link prefix; zero without IPv6
	subnet  *subnet    // nil for internet hosts
	segment *segment   // nil for VPC interfaces
	// gwlb is set when the ENI is a GWLB node's: GENEVE sent to it goes to
	// the load balancer, everything else (health checks) to the node.
	gwlb *gwlb.Node
	// ps is the node's port, where frames for it are written.
	ps *portState
}

func (e *eni) routerMAC() [6]byte {
	if e.subnet != nil {
		return e.subnet.routerMAC
	}
	return e.segment.routerMAC
}

func (e *eni) routerIP() netip.Addr {
	if e.subnet != nil {
		return e.subnet.router
	}
	return e.segment.router
}

type natGW struct {
	cfg    config.NATGateway
	subnet *subnet
	table  *natTable
}

type endpoint struct {
	cfg    config.Endpoint
	subnet *subnet
	number uint64 // the id's value, GENEVE option type 1
	// node is the GWLB node the endpoint hands traffic to, and nodeSubnet
	// the subnet of its address, where its GENEVE leaves from; nil when
	// the service has no load balancer in the endpoint's AZ.
	node       *gwlb.Node
	nodeSubnet *subnet
	// accepted is shared across recompiles: acceptance is runtime state.
	accepted *atomic.Bool
}

// compile builds the lookup structures of a snapshot. State that must
// outlive a configuration (load balancers, NAT tables, acceptance) comes
// from rt.
func compile(s *config.Snapshot, rt *runtime, ports map[string]*portState) (*lab, error) {
	l := &lab{
		snap:      s,
		endpoints: map[uint64]*endpoint{},
		enis:      map[string]*eni{},
		public:    map[netip.Addr]publicAddr{},
		inet:      map[netip.Addr]*eni{},
	}
	tgws := newTGWs(s)
	for _, vc := range s.VPCs {
		v := &vpc{
			name:     vc.Name,
			cidrs:    vc.CIDRs,
			igw:      vc.InternetGateway,
			owners:   map[netip.Addr]owner{},
			publicOf: map[netip.Addr]netip.Addr{},
		}
		for _, c := range vc.CIDRs {
			if c.Addr().Is6() {
				v.cidr6 = c
			}
		}
		l.vpcs = append(l.vpcs, v)
		subnets := map[string]*subnet{}
		for _, sc := range vc.Subnets {
			sn := &subnet{
				name: sc.Name, az: sc.AZ, cidr: sc.CIDR, router: sc.Router,
				cidr6: sc.IPv6CIDR, router6: sc.RouterV6,
				routerMAC: sc.RouterMAC, vpc: v,
				byMAC: map[[6]byte]*eni{}, byIP: map[netip.Addr]*eni{},
			}
			subnets[sc.Name] = sn
			v.subnets = append(v.subnets, sn)
			for _, ec := range sc.ENIs {
				e := &eni{cfg: ec, mac: ec.MAC, subnet: sn, ps: ports[ec.Node]}
				if e.ps == nil {
					return nil, fmt.Errorf("node %q has no port", ec.Node)
				}
				sn.byMAC[e.mac] = e
				sn.byIP[ec.IP] = e
				l.enis[ec.Node] = e
				v.owners[ec.IP] = owner{kind: ownerENI, eni: e}
				if ec.IPv6.IsValid() {
					e.router6 = sn.router6
					sn.byIP[ec.IPv6] = e
					v.owners[ec.IPv6] = owner{kind: ownerENI, eni: e}
				}
				if ec.PublicIP.IsValid() {
					l.public[ec.PublicIP] = publicAddr{vpc: v, private: ec.IP}
					v.publicOf[ec.IP] = ec.PublicIP
				}
			}
		}
		nats := map[string]*natGW{}
		for _, nc := range vc.NATGateways {
			table := rt.nats[natName{vc.Name, nc.Name}]
			if table == nil {
				return nil, fmt.Errorf("vpc %q: nat gateway %q is not in the running configuration", vc.Name, nc.Name)
			}
			n := &natGW{cfg: nc, subnet: subnets[nc.Subnet], table: table}
			nats[nc.Name] = n
			v.owners[nc.IP] = owner{kind: ownerNAT, nat: n}
			l.public[nc.PublicIP] = publicAddr{vpc: v, private: nc.IP}
			v.publicOf[nc.IP] = nc.PublicIP
		}
		eps := map[string]*endpoint{}
		for _, ec := range vc.Endpoints {
			num, err := config.EndpointNumber(ec.ID)
			if err != nil {
				return nil, err
			}
			ep := &endpoint{cfg: ec, subnet: subnets[ec.Subnet], number: num, accepted: rt.accepted[ec.Name]}
			if lb := rt.lbs[ec.GWLB]; lb != nil {
				ep.node = lb.Node(ec.AZ)
			}
			eps[ec.Name] = ep
			l.endpoints[num] = ep
			if ec.IP.IsValid() {
				v.owners[ec.IP] = owner{kind: ownerEndpoint, ep: ep}
			}
		}
		tables := map[string]*route.Table[hop]{}
		for _, rc := range vc.RouteTables {
			t, err := compileTable(v, rc, nats, eps, l.enis, tgws)
			if err != nil {
				return nil, fmt.Errorf("vpc %q: %w", vc.Name, err)
			}
			tables[rc.Name] = t
		}
		for _, sn := range v.subnets {
			for _, sc := range vc.Subnets {
				if sc.Name == sn.name {
					sn.table, sn.tableName = tables[sc.RouteTable], sc.RouteTable
				}
			}
			if sn.table == nil {
				return nil, fmt.Errorf("vpc %q subnet %q: no route table", vc.Name, sn.name)
			}
		}
		if vc.EdgeRouteTable != "" {
			v.edge, v.edgeRT = tables[vc.EdgeRouteTable], vc.EdgeRouteTable
		}
	}
	if err := compileTGWs(s, l, tgws, rt); err != nil {
		return nil, err
	}
	for _, g := range s.GWLBs {
		for _, v := range l.vpcs {
			if v.name != g.VPC {
				continue
			}
			for _, n := range g.Nodes {
				// A GWLB node that is also a lab node keeps its ENI (its
				// namespace sources health checks); GENEVE to it goes to
				// the load balancer.
				node := rt.lbs[g.Name].Node(n.AZ)
				if o, isENI := v.owners[n.IP]; isENI {
					o.eni.gwlb = node
				} else {
					v.owners[n.IP] = owner{kind: ownerGWLBNode, node: node}
				}
			}
		}
	}
	if s.Internet != nil {
		for _, sc := range s.Internet.Segments {
			seg := &segment{cidr: sc.CIDR, router: sc.Router, routerMAC: sc.RouterMAC,
				byMAC: map[[6]byte]*eni{}, byIP: map[netip.Addr]*eni{}}
			for _, p6 := range sc.IPv6 {
				seg.routers6 = append(seg.routers6, p6.Router)
			}
			l.segments = append(l.segments, seg)
			for _, hc := range sc.Hosts {
				e := &eni{cfg: hc, mac: hc.MAC, segment: seg, ps: ports[hc.Node]}
				if e.ps == nil {
					return nil, fmt.Errorf("node %q has no port", hc.Node)
				}
				seg.byMAC[e.mac] = e
				seg.byIP[hc.IP] = e
				l.enis[hc.Node] = e
				l.inet[hc.IP] = e
				if hc.IPv6.IsValid() {
					for _, p6 := range sc.IPv6 {
						if p6.CIDR.Contains(hc.IPv6) {
							e.router6 = p6.Router
						}
					}
					seg.byIP[hc.IPv6] = e
					l.inet[hc.IPv6] = e
				}
			}
		}
	}
	// Each endpoint's GENEVE leaves from its GWLB node's subnet, which may
	// be in a VPC compiled after the endpoint's.
	for _, ep := range l.endpoints {
		if ep.node == nil {
			continue
		}
		for _, v := range l.vpcs {
			for _, sn := range v.subnets {
				if sn.cidr.Contains(ep.node.IP) {
					ep.nodeSubnet = sn
				}
			}
		}
	}
	return l, nil
}

// compileTable turns a route table into an LPM table. Like AWS, every table
// has an implicit local route for each VPC CIDR, unless the table replaces it
// with an explicit route for exactly that prefix (spec §6.4).
func compileTable(v *vpc, rc config.RouteTable, nats map[string]*natGW, eps map[string]*endpoint, enis map[string]*eni, tgws map[string]*tgw) (*route.Table[hop], error) {
	t := route.New[hop]()
	explicit := map[netip.Prefix]bool{}
	for _, r := range rc.Routes {
		h := hop{}
		switch r.Kind {
		case config.TargetLocal:
			h.kind = hopLocal
		case config.TargetIGW:
			h.kind = hopIGW
		case config.TargetNAT:
			h.kind, h.nat = hopNAT, nats[r.Target]
		case config.TargetEndpoint:
			h.kind, h.ep = hopEndpoint, eps[r.Target]
		case config.TargetInstance:
			h.kind, h.eni = hopInstance, enis[r.Target]
		case config.TargetBlackhole:
			h.kind = hopBlackhole
		case config.TargetTGW:
			h.kind, h.tgw = hopTGW, tgws[r.Target]
		default:
			return nil, fmt.Errorf("route table %q: unknown target kind %q", rc.Name, r.Kind)
		}
		if (r.Kind == config.TargetNAT && h.nat == nil) || (r.Kind == config.TargetEndpoint && h.ep == nil) || (r.Kind == config.TargetInstance && h.eni == nil) || (r.Kind == config.TargetTGW && h.tgw == nil) {
			return nil, fmt.Errorf("route table %q: %s %q is not defined", rc.Name, r.Kind, r.Target)
		}
		if err := t.Insert(r.Destination.Masked(), h); err != nil {
			return nil, fmt.Errorf("route table %q: %w", rc.Name, err)
		}
		explicit[r.Destination.Masked()] = true
	}
	for _, c := range v.cidrs {
		if !explicit[c.Masked()] {
			if err := t.Insert(c.Masked(), hop{kind: hopLocal}); err != nil {
				return nil, fmt.Errorf("route table %q: %w", rc.Name, err)
			}
		}
	}
	return t, nil
}

// String names a route's target as a topology file would.
func (h hop) String() string {
	switch h.kind {
	case hopLocal:
		return "local"
	case hopIGW:
		return "internet gateway"
	case hopNAT:
		return "nat gateway " + h.nat.cfg.Name
	case hopEndpoint:
		return "gwlb endpoint " + h.ep.cfg.Name
	case hopInstance:
		return "instance " + h.eni.cfg.Node
	case hopTGW:
		return "transit gateway " + h.tgw.name
	}
	return "blackhole"
}
