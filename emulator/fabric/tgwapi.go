package fabric

import (
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

// TGWStatus is a transit gateway as `gwlb-lab tgw` shows it.
type TGWStatus struct {
	Name        string                `json:"name"`
	Attachments []TGWAttachmentStatus `json:"attachments"`
	RouteTables []TGWRouteTableStatus `json:"route_tables"`
}

// TGWAttachmentStatus is an attachment with its counters: packets and
// bytes that entered the gateway through it (In) and left through it
// (Out), and what entered through it and was dropped, by reason.
type TGWAttachmentStatus struct {
	Name          string          `json:"name"`
	VPC           string          `json:"vpc"`
	RouteTable    string          `json:"route_table,omitempty"`
	ApplianceMode bool            `json:"appliance_mode"`
	ENIs          []config.TGWENI `json:"enis"`
	InPackets     uint64          `json:"in_packets"`
	InBytes       uint64          `json:"in_bytes"`
	OutPackets    uint64          `json:"out_packets"`
	OutBytes      uint64          `json:"out_bytes"`
	// Drops are keyed by drop reason (tgw_no_route, tgw_blackhole,
	// tgw_no_attachment_in_az).
	Drops map[string]uint64 `json:"drops"`
}

// TGWRouteTableStatus is a transit gateway route table: its associated
// attachments, and its routes; Active is false for a propagated route that
// a static route of the same prefix overrides.
type TGWRouteTableStatus struct {
	Name         string           `json:"name"`
	Associations []string         `json:"associations"`
	Routes       []TGWRouteStatus `json:"routes"`
}

// TGWRouteStatus is one route of a TGW route table.
type TGWRouteStatus struct {
	Destination netip.Prefix `json:"destination"`
	Attachment  string       `json:"attachment,omitempty"`
	Blackhole   bool         `json:"blackhole,omitempty"`
	Propagated  bool         `json:"propagated,omitempty"`
	Active      bool         `json:"active"`
}

// TGWs lists the transit gateways with their attachments' counters.
func (f *Fabric) TGWs() []TGWStatus {
	out := []TGWStatus{}
	for _, t := range f.lab.Load().snap.TransitGateways {
		ts := TGWStatus{Name: t.Name, Attachments: []TGWAttachmentStatus{}, RouteTables: []TGWRouteTableStatus{}}
		for _, a := range t.Attachments {
			as := TGWAttachmentStatus{Name: a.Name, VPC: a.VPC, RouteTable: a.RouteTable, ApplianceMode: a.ApplianceMode,
				ENIs: a.ENIs, Drops: map[string]uint64{}}
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
			rs := TGWRouteTableStatus{Name: rt.Name, Associations: []string{}, Routes: []TGWRouteStatus{}}
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
				rs.Routes = append(rs.Routes, TGWRouteStatus{Destination: r.Destination, Attachment: r.Attachment,
					Blackhole: r.Blackhole, Propagated: r.Propagated, Active: active})
			}
			ts.RouteTables = append(ts.RouteTables, rs)
		}
		out = append(out, ts)
	}
	return out
}
