package packet

import "net/netip"

// FlowKey names a flow by its inner headers, as the GWLB's flow table and the
// appliances see it. Ports are zero for protocols that carry none (ICMP, ESP,
// GRE, ...) and for non-first fragments. The struct is comparable and holds no
// pointers besides netip.Addr's zone handle, so it is a cheap map key.
type FlowKey struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
}
