package fabric

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"github.com/gwlb-lab/gwlb-lab/emulator/route"
)

// A transit gateway is a hop between VPCs (spec §6.5). A packet a VPC route
// table sends to it enters through the attachment ENI in the AZ of the
// subnet it was routed from, is looked up in the route table associated
// with that attachment, and leaves through an ENI of the destination
// attachment: in the same AZ when the attachment has a subnet there, in one
// chosen per flow by a symmetric hash when the attachment has appliance
// mode. From there the destination VPC's route table of that subnet
// applies. The TGW does not touch the packet (no TTL change).

type tgw struct {
	name string
	// byVPC is each attached VPC's attachment, keyed by the compiled VPC
	// so that a packet finds it without hashing a name.
	byVPC map[*vpc]*tgwAttachment
	// seed starts the gateway's flow hash. Transit gateways share no flow
	// state (spec §6.5): two of them choose AZs for one flow independently,
	// so each hashes from a seed of its own, taken from its name so that a
	// lab replays the same choices.
	seed uint64
}

// fnvOffset is the FNV-1a 64-bit offset basis.
const fnvOffset = 14695981039346656037

// tgwSeed derives a transit gateway's flow hash seed from its name.
func tgwSeed(name string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(name); i++ {
		h = (h ^ uint64(name[i])) * 1099511628211
	}
	return h
}

type tgwAttachment struct {
	name      string
	tgw       *tgw
	table     *route.Table[tgwRoute] // associated; nil: none
	tableName string
	appliance bool
	enis      []tgwENI // sorted by AZ
	ctr       *attCounters
}

type tgwENI struct {
	az string
	sn *subnet
}

// tgwRoute is a compiled TGW route: to an attachment, or a blackhole.
type tgwRoute struct {
	att        *tgwAttachment
	propagated bool
}

func (r tgwRoute) String() string {
	kind := "static"
	if r.propagated {
		kind = "propagated"
	}
	if r.att == nil {
		return kind + " blackhole"
	}
	return kind + " -> attachment " + r.att.name
}

// eniIn returns the attachment's ENI in az, nil if it has none there.
func (a *tgwAttachment) eniIn(az string) *tgwENI {
	for i := range a.enis {
		if a.enis[i].az == az {
			return &a.enis[i]
		}
	}
	return nil
}

// Why an egress AZ was chosen, for traces.
const (
	azSame     = "the AZ it entered in: AZ affinity"
	azFirst    = "the attachment has no subnet in the AZ it entered in: its first AZ"
	azFlowHash = "appliance mode: symmetric flow hash"
	azSingleAZ = "appliance mode, but the attachment has one AZ"
)

// egress chooses the ENI through which the attachment delivers a packet
// that entered the TGW in inAZ; with appliance mode, by the flow hash of
// the attachment's gateway.
func (a *tgwAttachment) egress(inAZ string, ip []byte) (*tgwENI, string) {
	if a.appliance {
		if len(a.enis) == 1 {
			return &a.enis[0], azSingleAZ
		}
		var seed uint64 = fnvOffset
		if a.tgw != nil {
			seed = a.tgw.seed
		}
		return &a.enis[flowHash(seed, ip)%uint64(len(a.enis))], azFlowHash
	}
	if e := a.eniIn(inAZ); e != nil {
		return e, azSame
	}
	return &a.enis[0], azFirst
}

// flowHash hashes a packet's flow, starting from seed, so that both
// directions give the same value: the two (address, port) ends are put in
// order first. Fragmented datagrams hash by addresses and protocol only,
// so that all their fragments take the same AZ. It does not allocate.
func flowHash(seed uint64, ip []byte) uint64 {
	k, fi, err := packet.ParseFlow(ip)
	if err != nil {
		return 0
	}
	if fi.Fragment != packet.NotFragment {
		k.SrcPort, k.DstPort = 0, 0
	}
	a, pa, b, pb := k.Src, k.SrcPort, k.Dst, k.DstPort
	if c := a.Compare(b); c > 0 || (c == 0 && pa > pb) {
		a, pa, b, pb = b, pb, a, pa
	}
	h := seed
	mix := func(x byte) { h = (h ^ uint64(x)) * 1099511628211 }
	for _, addr := range [2]netip.Addr{a, b} {
		for _, x := range addr.As16() {
			mix(x)
		}
	}
	for _, port := range [2]uint16{pa, pb} {
		mix(byte(port >> 8))
		mix(byte(port))
	}
	mix(k.Proto)
	// Finish with a multiply-xorshift so that the low bits, which pick
	// the AZ, depend on every input byte.
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// newTGWs makes the transit gateways of a snapshot, without attachments:
// VPC route tables refer to them before the VPCs they attach are compiled.
func newTGWs(s *config.Snapshot) map[string]*tgw {
	out := map[string]*tgw{}
	for _, tc := range s.TransitGateways {
		out[tc.Name] = &tgw{name: tc.Name, byVPC: map[*vpc]*tgwAttachment{}, seed: tgwSeed(tc.Name)}
	}
	return out
}

// compileTGWs fills in the attachments and route tables once every VPC is
// compiled.
func compileTGWs(s *config.Snapshot, l *lab, tgws map[string]*tgw, rt *runtime) error {
	vpcs := map[string]*vpc{}
	for _, v := range l.vpcs {
		vpcs[v.name] = v
	}
	for _, tc := range s.TransitGateways {
		t := tgws[tc.Name]
		atts := map[string]*tgwAttachment{}
		for _, ac := range tc.Attachments {
			v := vpcs[ac.VPC]
			if v == nil {
				return fmt.Errorf("transit gateway %q attachment %q: vpc %q is not defined", tc.Name, ac.Name, ac.VPC)
			}
			a := &tgwAttachment{name: ac.Name, tgw: t, appliance: ac.ApplianceMode, tableName: ac.RouteTable, ctr: rt.tgw[attKey{tc.Name, ac.Name}]}
			if a.ctr == nil {
				return fmt.Errorf("transit gateway %q attachment %q is not in the running configuration", tc.Name, ac.Name)
			}
			for _, ec := range ac.ENIs {
				i := slices.IndexFunc(v.subnets, func(sn *subnet) bool { return sn.name == ec.Subnet })
				if i < 0 {
					return fmt.Errorf("transit gateway %q attachment %q: subnet %q is not in vpc %q", tc.Name, ac.Name, ec.Subnet, ac.VPC)
				}
				a.enis = append(a.enis, tgwENI{az: v.subnets[i].az, sn: v.subnets[i]})
				// The ENI's address is the TGW's: nothing is delivered to it.
				v.owners[ec.IP] = owner{kind: ownerTGW}
				if ec.IP6.IsValid() {
					v.owners[ec.IP6] = owner{kind: ownerTGW}
				}
			}
			if len(a.enis) == 0 {
				return fmt.Errorf("transit gateway %q attachment %q has no subnet", tc.Name, ac.Name)
			}
			slices.SortFunc(a.enis, func(x, y tgwENI) int { return cmp.Compare(x.az, y.az) })
			atts[ac.Name] = a
			t.byVPC[v] = a
		}
		tables := map[string]*route.Table[tgwRoute]{}
		for _, rc := range tc.RouteTables {
			tbl, err := compileTGWTable(rc, atts)
			if err != nil {
				return fmt.Errorf("transit gateway %q: %w", tc.Name, err)
			}
			tables[rc.Name] = tbl
		}
		for _, ac := range tc.Attachments {
			if ac.RouteTable != "" {
				atts[ac.Name].table = tables[ac.RouteTable]
				if atts[ac.Name].table == nil {
					return fmt.Errorf("transit gateway %q attachment %q: route table %q is not defined", tc.Name, ac.Name, ac.RouteTable)
				}
			}
		}
	}
	return nil
}

// compileTGWTable builds a TGW route table: longest prefix wins, and on an
// equal prefix a static route (blackhole included) wins over a propagated
// one; of two propagated routes for one prefix the first is kept.
func compileTGWTable(rc config.TGWRouteTable, atts map[string]*tgwAttachment) (*route.Table[tgwRoute], error) {
	t := route.New[tgwRoute]()
	for _, propagated := range []bool{false, true} {
		for _, r := range rc.Routes {
			if r.Propagated != propagated {
				continue
			}
			v := tgwRoute{propagated: r.Propagated}
			if !r.Blackhole {
				v.att = atts[r.Attachment]
				if v.att == nil {
					return nil, fmt.Errorf("route table %q: attachment %q is not defined", rc.Name, r.Attachment)
				}
			}
			p := r.Destination.Masked()
			if _, taken := t.Get(p); taken {
				if propagated {
					continue
				}
				return nil, fmt.Errorf("route table %q: two static routes for %s", rc.Name, p)
			}
			if err := t.Insert(p, v); err != nil {
				return nil, fmt.Errorf("route table %q: %w", rc.Name, err)
			}
		}
	}
	return t, nil
}

// tgwIn carries p, routed by a route table of subnet from (vpc v) to
// transit gateway t, across the gateway into the destination VPC.
func (w *worker) tgwIn(p *pkt, v *vpc, from *subnet, t *tgw) (stage, bool) {
	in := t.byVPC[v]
	if in == nil || from == nil {
		// Validation keeps both from happening: a VPC routes only to a
		// TGW it is attached to, and gateway route tables cannot.
		if w.tr != nil {
			w.note("transit gateway %s: vpc %s has no attachment", t.name, v.name)
		}
		w.drop(DropTGWNoAttachmentAZ)
		return stage{}, false
	}
	if in.eniIn(from.az) == nil {
		// Resources in an AZ without an attachment subnet cannot reach
		// the TGW (spec §6.5).
		if w.tr != nil {
			w.note("transit gateway %s: attachment %s has no subnet in az %s, the AZ of subnet %s", t.name, in.name, from.az, from.name)
		}
		in.ctr.noAZ.Add(1)
		w.drop(DropTGWNoAttachmentAZ)
		return stage{}, false
	}
	in.ctr.inPkts.Add(1)
	in.ctr.inBytes.Add(uint64(p.n))
	if in.table == nil {
		in.ctr.noRoute.Add(1)
		if w.tr != nil {
			w.note("transit gateway %s: attachment %s (az %s) is associated with no route table", t.name, in.name, from.az)
		}
		w.drop(DropTGWNoRoute)
		return stage{}, false
	}
	dst := p.dst()
	r, pfx, ok := in.table.Lookup(dst)
	if !ok {
		if w.tr != nil {
			w.note("transit gateway %s: in through attachment %s (az %s); route table %s has no route to %s", t.name, in.name, from.az, in.tableName, dst)
		}
		in.ctr.noRoute.Add(1)
		w.drop(DropTGWNoRoute)
		return stage{}, false
	}
	if r.att == nil {
		if w.tr != nil {
			w.note("transit gateway %s: in through attachment %s (az %s); route table %s: %s %s", t.name, in.name, from.az, in.tableName, pfx, r)
		}
		in.ctr.blackhole.Add(1)
		w.drop(DropTGWBlackhole)
		return stage{}, false
	}
	out, why := r.att.egress(from.az, p.buf[p.off:p.off+p.n])
	r.att.ctr.outPkts.Add(1)
	r.att.ctr.outBytes.Add(uint64(p.n))
	if w.tr != nil {
		w.note("transit gateway %s: in through attachment %s (az %s); route table %s: %s %s; out in az %s (%s), subnet %s of vpc %s",
			t.name, in.name, from.az, in.tableName, pfx, r, out.az, why, out.sn.name, out.sn.vpc.name)
	}
	return stage{kind: atSubnet, sn: out.sn}, true
}
