package fabric

import (
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"net/netip"
	"sync/atomic"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
)

// attCounters count what crossed one transit gateway attachment. They live
// in the runtime, so a recompiled configuration keeps them.
type attCounters struct {
	inPkts, inBytes, outPkts, outBytes atomic.Uint64
	noRoute, blackhole, noAZ           atomic.Uint64
}

// attKey names an attachment: names are unique within a transit gateway.
type attKey struct{ tgw, att string }

func newTGWCounters(s *config.Snapshot) map[attKey]*attCounters {
	out := map[attKey]*attCounters{}
	for _, t := range s.TransitGateways {
		for _, a := range t.Attachments {
			out[attKey{t.Name, a.Name}] = &attCounters{}
		}
	}
	return out
}

// TGWs lists the transit gateways with their attachments' counters.
func (f *Fabric) TGWs() []api.TGWStatus {
	out := []api.TGWStatus{}
	for _, t := range f.lab.Load().snap.TransitGateways {
		ts := api.TGWStatus{Name: t.Name, Attachments: []api.TGWAttachmentStatus{}, RouteTables: []api.TGWRouteTableStatus{}}
		for _, a := range t.Attachments {
			as := api.TGWAttachmentStatus{Name: a.Name, VPC: a.VPC, RouteTable: a.RouteTable, ApplianceMode: a.ApplianceMode,
				ENIs: tgwENIs(a.ENIs), Drops: map[string]uint64{}}
			if c := f.rt.tgw[attKey{t.Name, a.Name}]; c != nil {
				as.InPackets, as.InBytes = c.inPkts.Load(), c.inBytes.Load()
				as.OutPackets, as.OutBytes = c.outPkts.Load(), c.outBytes.Load()
				as.Drops[DropTGWNoRoute.String()] = c.noRoute.Load()
				as.Drops[DropTGWBlackhole.String()] = c.blackhole.Load()
				as.Drops[DropTGWNoAttachmentAZ.String()] = c.noAZ.Load()
			}
			ts.Attachments = append(ts.Attachments, as)
		}
		for _, rt := range t.RouteTables {
			rs := api.TGWRouteTableStatus{Name: rt.Name, Associations: []string{}, Routes: []api.TGWRouteStatus{}}
			for _, a := range t.Attachments {
				if a.RouteTable == rt.Name {
					rs.Associations = append(rs.Associations, a.Name)
				}
			}
			static := map[netip.Prefix]bool{}
			for _, r := range rt.Routes {
				if !r.Propagated {
					static[r.Destination.Masked()] = true
				}
			}
			kept := map[netip.Prefix]bool{}
			for _, r := range rt.Routes {
				p := r.Destination.Masked()
				active := !r.Propagated || (!static[p] && !kept[p])
				if r.Propagated && active {
					kept[p] = true
				}
				rs.Routes = append(rs.Routes, api.TGWRouteStatus{Destination: r.Destination, Attachment: r.Attachment,
					Blackhole: r.Blackhole, Propagated: r.Propagated, Active: active})
			}
			ts.RouteTables = append(ts.RouteTables, rs)
		}
		out = append(out, ts)
	}
	return out
}

// tgwENIs copies an attachment's ENIs into the control API's type.
func tgwENIs(enis []config.TGWENI) []api.TGWENI {
	out := make([]api.TGWENI, len(enis))
	for i, e := range enis {
		out[i] = api.TGWENI{Subnet: e.Subnet, AZ: e.AZ, IP: e.IP, IP6: e.IP6}
	}
	return out
}
