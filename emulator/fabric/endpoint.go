package fabric

import (
	"github.com/gwlb-lab/gwlb-lab/emulator/gwlb"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// MaxEndpointPacket is the largest inner packet a GWLB endpoint carries;
// larger ones are dropped without an ICMP error (spec §5).
const MaxEndpointPacket = 8500

// endpointMSS is what endpoints clamp the TCP MSS of SYNs to, so that full
// segments fit MaxEndpointPacket (spec §5: endpoints clamp MSS).
const (
	endpointMSS4 = MaxEndpointPacket - packet.IPv4Len - packet.TCPLen
	endpointMSS6 = MaxEndpointPacket - packet.IPv6Len - packet.TCPLen
)

// isGeneve reports an unfragmented UDP packet to port 6081.
func isGeneve(ip packet.IPv4) bool {
	if ip.Protocol() != packet.ProtoUDP || ip.Fragment() != packet.NotFragment {
		return false
	}
	l4 := ip[ip.HeaderLen():]
	return len(l4) >= packet.UDPLen && packet.UDP(l4).DstPort() == packet.GenevePort
}

// endpointIn hands a packet routed to endpoint ep to its GWLB node, which
// picks a target; the packet leaves encapsulated, routed from the node's
// subnet to the target (spec §6.1, §2).
func (w *worker) endpointIn(p *pkt, ep *endpoint) (stage, bool) {
	if p.left == ep {
		// Its own subnet routes what leaves the endpoint back into it: an
		// endpoint sharing the workloads' subnet (spec §6.3). Nothing
		// would end the loop, the VPC and the GWLB keep the TTL.
		if w.tr != nil {
			w.note("gwlb endpoint %s: the packet just left it; its subnet routes it straight back (spec §6.3)", ep.cfg.Name)
		}
		w.drop(DropRoutingLoop)
		return stage{}, false
	}
	switch {
	case !ep.accepted.Load():
		w.drop(DropEndpointNotAccepted)
		return stage{}, false
	case p.n > MaxEndpointPacket:
		w.drop(DropEndpointTooBig)
		return stage{}, false
	case ep.node == nil || ep.nodeSubnet == nil:
		w.drop(DropEndpointUnavailable)
		return stage{}, false
	}
	inner := p.buf[p.off : p.off+p.n]
	fk, info, err := packet.ParseFlow(inner)
	if err == nil {
		clampMSS(inner, info)
		// After the clamp: the next round's SYN carries the clamped MSS.
		if !w.f.loops.enter(w.fingerprint(inner, fk.Proto, info), w.now()) {
			if w.tr != nil {
				w.note("gwlb endpoint %s: the same packet entered gwlb endpoints more than %d times within %s: a route loop", ep.cfg.Name, loopBound, loopWindow)
			}
			w.drop(DropEndpointLoop)
			return stage{}, false
		}
	}
	if w.tr != nil {
		w.note("gwlb endpoint %s (%s, az %s): to gwlb node %s", ep.cfg.Name, ep.cfg.ID, ep.cfg.AZ, ep.node.Name)
	}
	d, ok := ep.node.ForwardFlow(inner, fk, info, err, ep.number, w.now())
	if d.Held {
		// A later fragment before its first: the node keeps it and it
		// follows the first one (see flushHeld).
		if w.tr != nil {
			w.outcome("held by gwlb node %s until the first fragment of its datagram arrives", ep.node.Name)
		}
		return stage{}, false
	}
	if !ok {
		if w.tr != nil {
			w.note("gwlb node %s: dropped: %s", ep.node.Name, d.Dropped)
			w.outcome("dropped by gwlb node %s: %s", ep.node.Name, d.Dropped)
			if d.Reset {
				w.note("gwlb node %s: answers with a TCP reset (send_tcp_reset)", ep.node.Name)
			}
		}
		w.drop(DropGWLB)
		if d.Reset {
			w.reset(inner, ep)
		}
		return stage{}, false
	}
	if w.tr != nil {
		how := "existing flow"
		switch {
		case d.NewFlow:
			how = "new flow"
		case d.Moved:
			how = "flow moved by target failover"
		}
		w.note("gwlb node %s: %s -> target %s, cookie %08x; GENEVE %s:%d -> %s:6081",
			ep.node.Name, how, d.Target.Name, d.Params.Options.Cookie, d.Params.Src, d.Params.SrcPort, d.Params.Dst)
	}
	if d.Release.Pending() {
		w.held = append(w.held, heldRelease{ep: ep, r: d.Release})
	}
	start, err := packet.Encap(p.buf, p.off, p.n, &d.Params)
	if err != nil {
		w.drop(DropMalformed)
		return stage{}, false
	}
	p.off, p.n, p.v6 = start+packet.EthernetLen, p.n+packet.EncapOverhead, false // the outer is IPv4
	return stage{kind: atSubnet, sn: ep.nodeSubnet}, true
}

// gwlbReturn takes GENEVE a target sent to GWLB node n. When the node
// accepts it, the inner packet leaves through its endpoint and is routed by
// the endpoint subnet's route table (spec §6.3).
func (w *worker) gwlbReturn(p *pkt, n *gwlb.Node) (stage, bool) {
	// Decap reads a whole frame; the Ethernet header in front of the
	// packet may have been left by another hop, so make it an IPv4 one.
	eth := packet.Ethernet(p.buf[p.off-packet.EthernetLen : p.off])
	eth.SetType(packet.EtherTypeIPv4)
	d, err := packet.Decap(p.buf[p.off-packet.EthernetLen : p.off+p.n])
	epNum, why, ok := n.ReturnWhy(d, err, w.now())
	if !ok {
		if w.tr != nil {
			w.note("gwlb node %s: GENEVE from %s refused: %s", n.Name, d.Outer.Src(), why)
			w.outcome("dropped by gwlb node %s: %s", n.Name, why)
		}
		w.drop(DropGWLB)
		return stage{}, false
	}
	ep := w.lab.endpoints[epNum]
	if ep == nil {
		w.drop(DropEndpointUnavailable)
		return stage{}, false
	}
	if w.tr != nil {
		w.note("gwlb node %s: GENEVE from %s accepted; inner packet leaves gwlb endpoint %s", n.Name, d.Outer.Src(), ep.cfg.Name)
	}
	off := cap(p.buf) - cap(d.Inner)
	p.off, p.n = off, len(d.Inner)
	switch {
	case len(d.Inner) >= packet.IPv4Len && d.Inner[0]>>4 == 4:
		p.v6 = false
	case len(d.Inner) >= packet.IPv6Len && d.Inner[0]>>4 == 6:
		// GENEVE protocol 0x86DD inside the IPv4 outer (spec §2.5).
		p.v6 = true
	default:
		w.drop(DropMalformed)
		return stage{}, false
	}
	p.left = ep
	if w.tr == nil && w.f.tracers.load() != nil {
		// The outer packet was not traced; its inner one may be.
		w.startTrace(w.node, p, ", returned in GENEVE to gwlb node "+n.Name+", leaving gwlb endpoint "+ep.cfg.Name)
	}
	return stage{kind: atSubnet, sn: ep.subnet}, true
}

// clampMSS lowers the MSS option of a TCP SYN so that full-size segments
// fit through the endpoint.
func clampMSS(inner []byte, info packet.FlowInfo) {
	if info.TCPFlags&packet.TCPFlagSYN == 0 || info.Fragment != packet.NotFragment {
		return
	}
	max := uint16(endpointMSS4)
	if info.Version == 6 {
		max = endpointMSS6
	}
	packet.TCP(inner[info.L4Offset:]).ClampMSS(max)
}

// reset answers a TCP packet that has no flow with a RST from its
// destination, sent back out of the endpoint (send_tcp_reset, spec §3.3).
func (w *worker) reset(inner []byte, ep *endpoint) {
	fk, info, err := packet.ParseFlow(inner)
	if err != nil || fk.Proto != packet.ProtoTCP || info.Fragment == packet.LaterFragment {
		return
	}
	t := packet.TCP(inner[info.L4Offset:])
	if t.Validate() != nil {
		return
	}
	hdr := packet.TCPHeader{SrcPort: t.DstPort(), DstPort: t.SrcPort(), Flags: packet.TCPFlagRST}
	if t.Flags()&packet.TCPFlagACK != 0 {
		hdr.Seq = t.Ack()
	} else {
		hdr.Ack = t.Seq() + uint32(len(t.Payload()))
		hdr.Flags |= packet.TCPFlagACK
	}
	buf := w.rst[:Headroom]
	buf = packet.AppendTCP(buf, packet.IPHeader{Src: fk.Dst, Dst: fk.Src}, hdr, nil)
	rp := &pkt{buf: buf[:cap(buf)], off: Headroom, n: len(buf) - Headroom, v6: info.Version == 6, scratch: true}
	w.route(rp, stage{kind: atSubnet, sn: ep.subnet})
}

// heldRelease is a datagram whose first fragment went through ep while
// later fragments of it were held by ep's node.
type heldRelease struct {
	ep *endpoint
	r  gwlb.Release
}

// flushHeld sends the fragments a GWLB node held for datagrams whose first
// fragment the worker just forwarded: each enters the endpoint again, now
// after its first fragment, and follows it to the same target.
func (w *worker) flushHeld() {
	for len(w.held) > 0 {
		h := w.held[len(w.held)-1]
		w.held = w.held[:len(w.held)-1]
		if w.heldBuf == nil {
			w.heldBuf = make([]byte, Headroom+MaxEndpointPacket)
		}
		for {
			n, ok := h.ep.node.TakeHeld(h.r, w.heldBuf[Headroom:])
			if !ok {
				break
			}
			p := &pkt{buf: w.heldBuf, off: Headroom, n: n, scratch: true}
			if next, more := w.endpointIn(p, h.ep); more {
				w.route(p, next)
			}
		}
	}
}
