package fabric

import (
	"errors"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/gwlb"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// worker carries the frames of one port through the lab. It is owned by that
// port's goroutine, so its scratch space needs no locking.
type worker struct {
	f       *Fabric
	lab     *lab
	scratch []byte
	out     [][]byte
	rst     []byte                    // where TCP resets are built, with headroom
	fp      [loopHeader + loopL4]byte // where loop fingerprints are gathered
	// tr is the trace of the packet being carried, nil unless someone
	// traces it; trTo are the tracers that want it.
	tr   *api.Trace
	trTo []*tracer
	node string // the node whose frame is being carried
	// held lists datagrams whose held fragments go out once the frame
	// being carried has; heldBuf is where each is copied to travel.
	held    []heldRelease
	heldBuf []byte
	// rng decides link loss and jitter for the frames this worker carries
	// (impair.go); seeded per port.
	rng *rand.PCG
	// batching is set for a port's reader: frames for the nodes wait in
	// dests until the read batch has been carried (flush), so that each
	// destination port gets them in one push. Otherwise (unit tests
	// calling receive) every frame is sent at once.
	batching bool
	// dests holds, per destination port, the frames of the current read
	// batch, in the order they were carried; entries past ndests are
	// spare, kept with their arrays so that nothing is allocated per
	// batch.
	dests  []destBatch
	ndests int
	// nowT is the lab time of the read batch being carried, read once
	// per batch (now) when nowOK; a batch takes microseconds, and the
	// clock was a few per cent of the work per packet.
	nowT  time.Time
	nowOK bool
	// from caches the ENI of the node whose frames the worker carries,
	// for the configuration it was looked up in.
	from struct {
		lab  *lab
		node string
		eni  *eni
	}
}

// destBatch is one destination's frames of a read batch: slices of the
// read buffers, valid until the next Read.
type destBatch struct {
	ps     *portState
	frames [][]byte
}

func newWorker(f *Fabric) *worker {
	return &worker{f: f, scratch: make([]byte, 0, 128), out: make([][]byte, 1), rst: make([]byte, Headroom+128),
		held: make([]heldRelease, 0, 4), rng: rand.NewPCG(f.seed, 0)}
}

// now is the lab time for the frame being carried: for a port's reader,
// the time its current read batch was first asked for it; otherwise (unit
// tests calling receive) the clock's.
func (w *worker) now() time.Time {
	if !w.batching {
		return w.f.clock.Now()
	}
	if !w.nowOK {
		w.nowT, w.nowOK = w.f.clock.Now(), true
	}
	return w.nowT
}

// pkt is an IPv4 or IPv6 packet inside a read buffer: buf[off:off+n], with
// the headroom in front of off free for rewriting the Ethernet header (and
// for encapsulation). The forwarding path reads addresses through src and
// dst, whatever the version; only address translation (IGW, NAT) and GENEVE
// are IPv4-specific and look at ip.
type pkt struct {
	buf []byte
	off int
	n   int
	v6  bool
	// left is the GWLB endpoint the packet just came out of, if any: a
	// route straight back into it is a loop (spec §6.3, §6.6 #3).
	left *endpoint
	// from is the subnet whose route table sent the packet on, if one
	// did: a transit gateway takes it in through that subnet's AZ.
	from *subnet
	// scratch is set when buf is one of the worker's own buffers (a held
	// fragment, a reset it built), which the next such packet reuses: it
	// cannot wait in a batch for the read batch to end.
	scratch bool
}

// ip is the packet as IPv4; only for !v6.
func (p *pkt) ip() packet.IPv4 { return packet.IPv4(p.buf[p.off : p.off+p.n]) }

func (p *pkt) src() netip.Addr {
	if p.v6 {
		return packet.IPv6(p.buf[p.off : p.off+p.n]).Src()
	}
	return p.ip().Src()
}

func (p *pkt) dst() netip.Addr {
	if p.v6 {
		return packet.IPv6(p.buf[p.off : p.off+p.n]).Dst()
	}
	return p.ip().Dst()
}

func (p *pkt) etherType() uint16 {
	if p.v6 {
		return packet.EtherTypeIPv6
	}
	return packet.EtherTypeIPv4
}

// ownAddr is e's address of p's version (zero if e has none).
func (p *pkt) ownAddr(e *eni) netip.Addr {
	if p.v6 {
		return e.cfg.IPv6
	}
	return e.cfg.IP
}

func isClosed(err error) bool {
	return errors.Is(err, os.ErrClosed) || errors.Is(err, io.EOF)
}

// receive handles one frame that node sent: buf[off:off+n].
func (w *worker) receive(node string, buf []byte, off, n int) {
	w.receiveFrame(node, buf, off, n)
	w.flushHeld()
	w.publish()
}

func (w *worker) receiveFrame(node string, buf []byte, off, n int) {
	w.lab, w.node = w.f.lab.Load(), node
	// The sending ENI, looked up by name once per configuration and node
	// rather than per frame.
	if w.from.lab != w.lab || w.from.node != node {
		w.from.lab, w.from.node, w.from.eni = w.lab, node, w.lab.enis[node]
	}
	from := w.from.eni
	if from == nil {
		w.drop(DropMalformed)
		return
	}
	eth := packet.Ethernet(buf[off : off+n])
	if eth.Validate() != nil {
		w.drop(DropMalformed)
		return
	}
	ipOff := off + packet.EthernetLen
	p := &pkt{buf: buf, off: ipOff}
	switch eth.Type() {
	case packet.EtherTypeARP:
		w.arp(from, packet.ARP(eth[packet.EthernetLen:]))
		return
	case packet.EtherTypeIPv4:
		ip := packet.IPv4(buf[ipOff : off+n])
		if ip.Validate() != nil {
			w.drop(DropMalformed)
			return
		}
		p.n = int(ip.TotalLen())
	case packet.EtherTypeIPv6:
		ip := packet.IPv6(buf[ipOff : off+n])
		if ip.Validate() != nil {
			w.drop(DropMalformed)
			return
		}
		p.n, p.v6 = packet.IPv6Len+int(ip.PayloadLen()), true
		if w.neighbor(from, eth, ip) {
			return
		}
	default:
		w.drop(DropNotIP)
		return
	}
	w.startTrace(node, p, "")
	// Source/destination check on the sending ENI; internet hosts always
	// send from their own address.
	if (from.cfg.SourceDestCheck || from.segment != nil) && p.src() != p.ownAddr(from) {
		w.drop(DropSourceCheck)
		return
	}
	if from.gwlb != nil && !p.v6 {
		// The node's own health checks: what answers them may come in.
		from.gwlb.Sent(p.buf[p.off:p.off+p.n], w.now())
	}
	dstMAC := eth.Dst()
	if dstMAC[0]&1 != 0 {
		w.drop(DropBroadcast)
		return
	}
	if dstMAC != from.routerMAC() {
		// Sent at L2 to a neighbour: no router, no route table.
		var nb *eni
		if from.subnet != nil {
			nb = from.subnet.byMAC[dstMAC]
		} else {
			nb = from.segment.byMAC[dstMAC]
		}
		if nb == nil || nb == from {
			w.drop(DropUnknownMAC)
			return
		}
		if w.tr != nil {
			w.note("sent at L2 to %s's MAC: no router", nb.cfg.Node)
		}
		if nb.gwlb != nil && !p.v6 && isGeneve(p.ip()) {
			// GENEVE for a GWLB node from its own subnet: the load
			// balancer's, not the node namespace's.
			if next, more := w.gwlbReturn(p, nb.gwlb); more {
				w.route(p, next)
			}
			return
		}
		w.deliver(nb, p, eth.Src())
		return
	}
	if from.segment != nil {
		w.route(p, stage{kind: atInternet})
		return
	}
	w.route(p, stage{kind: atSubnet, sn: from.subnet})
}

type stageKind uint8

const (
	atSubnet   stageKind = iota // at the router of sn, from an interface in sn
	atIGWIn                     // at vpc's internet gateway, arriving from the internet
	atInternet                  // on the internet, source already public
)

type stage struct {
	kind stageKind
	sn   *subnet
	v    *vpc
}

// route moves p hop by hop until it is delivered or dropped.
func (w *worker) route(p *pkt, st stage) {
	for range maxHops {
		var next stage
		var more bool
		switch st.kind {
		case atSubnet:
			next, more = w.atSubnet(p, st.sn)
		case atIGWIn:
			next, more = w.atIGWIn(p, st.v)
		case atInternet:
			next, more = w.atInternet(p)
		}
		if !more {
			return
		}
		st = next
	}
	w.drop(DropRoutingLoop)
}

func (w *worker) atSubnet(p *pkt, sn *subnet) (stage, bool) {
	dst := p.dst()
	if dst == sn.router || dst == sn.router6 {
		w.drop(DropToRouter)
		return stage{}, false
	}
	// Same-subnet traffic is delivered directly, whatever the route table
	// says (spec §6.3).
	if sn.cidr.Contains(dst) || sn.cidr6.Contains(dst) {
		if w.tr != nil {
			w.note("subnet %s (vpc %s): %s is in the subnet: delivered directly, no route table", sn.name, sn.vpc.name, dst)
		}
		return w.local(p, sn.vpc)
	}
	h, pfx, ok := sn.table.Lookup(dst)
	if !ok {
		if w.tr != nil {
			w.note("subnet %s (vpc %s): route table %s has no route to %s", sn.name, sn.vpc.name, sn.tableName, dst)
		}
		w.drop(DropNoRoute)
		return stage{}, false
	}
	if w.tr != nil {
		w.note("subnet %s (vpc %s): route table %s: %s -> %s", sn.name, sn.vpc.name, sn.tableName, pfx, h)
	}
	p.from = sn
	return w.apply(p, sn.vpc, h)
}

// apply sends p to a route's target.
func (w *worker) apply(p *pkt, v *vpc, h hop) (stage, bool) {
	switch h.kind {
	case hopLocal:
		return w.local(p, v)
	case hopIGW:
		if p.v6 {
			// An IGW does not translate IPv6: the VPC's own IPv6
			// addresses are global, anything else cannot leave.
			if !v.cidr6.Contains(p.src()) {
				w.drop(DropIGWNoPublicIP)
				return stage{}, false
			}
			if w.tr != nil {
				w.note("internet gateway %s: IPv6 leaves untranslated", v.igw)
			}
			return stage{kind: atInternet}, true
		}
		ip := p.ip()
		pub, ok := v.publicOf[ip.Src()]
		if !ok {
			if w.tr != nil {
				w.note("internet gateway %s: %s has no public address", v.igw, ip.Src())
			}
			w.drop(DropIGWNoPublicIP)
			return stage{}, false
		}
		if w.tr != nil {
			w.note("internet gateway %s: source %s -> %s", v.igw, ip.Src(), pub)
		}
		rewriteSrc(ip, pub)
		return stage{kind: atInternet}, true
	case hopNAT:
		if p.v6 { // no NAT64 here
			w.drop(DropNATUnsupported)
			return stage{}, false
		}
		if !w.natOut(p, h.nat) {
			return stage{}, false
		}
		return stage{kind: atSubnet, sn: h.nat.subnet}, true
	case hopEndpoint:
		return w.endpointIn(p, h.ep)
	case hopInstance:
		w.deliver(h.eni, p, h.eni.routerMAC())
		return stage{}, false
	case hopTGW:
		from := p.from
		p.from = nil
		return w.tgwIn(p, v, from, h.tgw)
	default: // hopBlackhole
		w.drop(DropBlackhole)
		return stage{}, false
	}
}

// local delivers p to whatever owns its destination address in v.
func (w *worker) local(p *pkt, v *vpc) (stage, bool) {
	o, ok := v.owners[p.dst()]
	if !ok {
		if w.tr != nil {
			w.note("vpc %s: nothing has the address %s", v.name, p.dst())
		}
		w.drop(DropNoSuchAddress)
		return stage{}, false
	}
	switch o.kind {
	case ownerENI:
		if o.eni.gwlb != nil && !p.v6 && isGeneve(p.ip()) {
			return w.gwlbReturn(p, o.eni.gwlb)
		}
		w.deliver(o.eni, p, o.eni.routerMAC())
		return stage{}, false
	case ownerGWLBNode:
		if !p.v6 && isGeneve(p.ip()) {
			return w.gwlbReturn(p, o.node)
		}
		w.drop(DropNoSuchAddress)
		return stage{}, false
	case ownerNAT:
		if p.v6 || !w.natIn(p, o.nat) {
			return stage{}, false
		}
		// Return traffic follows the NAT gateway subnet's route table
		// (spec §6.4).
		return stage{kind: atSubnet, sn: o.nat.subnet}, true
	default:
		w.drop(DropNoSuchAddress)
		return stage{}, false
	}
}

func (w *worker) atIGWIn(p *pkt, v *vpc) (stage, bool) {
	var private netip.Addr
	if p.v6 {
		// IPv6 enters untranslated, to an address of the VPC's block.
		private = p.dst()
		if !v.cidr6.Contains(private) {
			w.drop(DropInternetNoRoute)
			return stage{}, false
		}
	} else {
		ip := p.ip()
		pa, ok := w.lab.public[ip.Dst()]
		if !ok || pa.vpc != v {
			w.drop(DropInternetNoRoute)
			return stage{}, false
		}
		if w.tr != nil {
			w.note("internet gateway %s (vpc %s): destination %s -> %s", v.igw, v.name, ip.Dst(), pa.private)
		}
		rewriteDst(ip, pa.private)
		private = pa.private
	}
	if v.edge == nil {
		if w.tr != nil {
			w.note("internet gateway %s: no edge route table: local delivery", v.igw)
		}
		return w.local(p, v)
	}
	// The edge-associated route table decides where inbound traffic goes
	// (spec §6.2); it always holds the VPC's local route(s).
	p.from = nil
	h, pfx, ok := v.edge.Lookup(private)
	if !ok {
		return w.local(p, v)
	}
	if w.tr != nil {
		w.note("internet gateway %s: edge route table %s: %s -> %s", v.igw, v.edgeRT, pfx, h)
	}
	return w.apply(p, v, h)
}

func (w *worker) atInternet(p *pkt) (stage, bool) {
	dst := p.dst()
	if h, ok := w.lab.inet[dst]; ok {
		if w.tr != nil {
			w.note("internet: %s is host %s", dst, h.cfg.Node)
		}
		w.deliver(h, p, h.routerMAC())
		return stage{}, false
	}
	if p.v6 {
		for _, v := range w.lab.vpcs {
			if v.igw != "" && v.cidr6.Contains(dst) {
				return stage{kind: atIGWIn, v: v}, true
			}
		}
	} else if pa, ok := w.lab.public[dst]; ok {
		if w.tr != nil {
			w.note("internet: %s belongs to vpc %s's internet gateway", dst, pa.vpc.name)
		}
		return stage{kind: atIGWIn, v: pa.vpc}, true
	}
	w.drop(DropInternetNoRoute)
	return stage{}, false
}

// deliver writes p to e's port, from srcMAC. Without a source/destination
// check an ENI accepts traffic for any address (a middlebox).
func (w *worker) deliver(e *eni, p *pkt, srcMAC packet.MAC) {
	if e.cfg.SourceDestCheck && p.dst() != p.ownAddr(e) {
		w.drop(DropDestCheck)
		return
	}
	if e.gwlb != nil && !e.gwlb.Admit(p.buf[p.off:p.off+p.n], w.now()) {
		// A GWLB node takes GENEVE (handled before delivery) and the
		// answers to its own health checks, nothing else: its kernel
		// would answer strays, and reset its own checks (gwlb.Node.Admit).
		if w.tr != nil {
			w.note("gwlb node %s: neither GENEVE nor an answer to its health checks: ignored", e.gwlb.Name)
			w.outcome("dropped by gwlb node %s: %s", e.gwlb.Name, gwlb.DropStray)
		}
		w.drop(DropGWLB)
		return
	}
	ps := e.ps
	start := p.off - packet.EthernetLen
	eth := packet.Ethernet(p.buf[start:p.off])
	eth.SetDst(e.mac)
	eth.SetSrc(srcMAC)
	eth.SetType(p.etherType())
	frame := p.buf[start : p.off+p.n]
	if imp := ps.imp.Load(); imp != nil && !w.impaired(ps, imp, frame) {
		return // dropped, or delayed: the link's queue sends it
	}
	if why, ok := w.emit(ps, frame, !p.scratch); !ok {
		if w.tr != nil {
			w.outcome("dropped: %s", why)
		}
		return
	}
	if w.tr != nil {
		w.outcome("delivered to %s", e.cfg.Node)
	}
}

// emit sends frame to ps. A frame in the read buffer (stable) joins the
// batch of its destination when the worker batches, unless it is traced:
// a trace tells how its packet ended, so a traced frame goes at once.
// Any other frame goes at once too, after the frames batched for ps before
// it, so that a port gets its frames in the order they were carried.
func (w *worker) emit(ps *portState, frame []byte, stable bool) (Reason, bool) {
	if w.batching {
		d := w.dest(ps)
		if stable && w.tr == nil {
			d.frames = append(d.frames, frame)
			return 0, true
		}
		w.flushDest(d)
	}
	w.out[0] = frame
	return w.f.send(ps, w.out, 0)
}

// dest returns the batch of ps, starting one if the read batch has none.
func (w *worker) dest(ps *portState) *destBatch {
	for i := range w.ndests {
		if w.dests[i].ps == ps {
			return &w.dests[i]
		}
	}
	if w.ndests == len(w.dests) {
		w.dests = append(w.dests, destBatch{})
	}
	d := &w.dests[w.ndests]
	w.ndests++
	d.ps = ps
	return d
}

// flushDest sends d's frames.
func (w *worker) flushDest(d *destBatch) {
	if len(d.frames) > 0 {
		w.f.send(d.ps, d.frames, 0)
		clear(d.frames) // no reference to the read buffers stays behind
		d.frames = d.frames[:0]
	}
}

// flush sends the frames batched during a read batch, one push per
// destination port.
func (w *worker) flush() {
	for i := range w.ndests {
		d := &w.dests[i]
		w.flushDest(d)
		d.ps = nil
	}
	w.ndests = 0
}

// arp answers a request the way the VPC does: for the subnet router, for a
// neighbour's address with the neighbour's MAC, and for addresses that the
// emulator itself owns in the subnet (gateways, endpoints) with the router's.
func (w *worker) arp(from *eni, a packet.ARP) {
	if a.Validate() != nil {
		w.drop(DropMalformed)
		return
	}
	if a.Op() != packet.ARPRequest || a.SenderIP() != from.cfg.IP {
		return
	}
	target := a.TargetIP()
	var mac packet.MAC
	var found bool
	switch {
	case target == from.routerIP():
		mac, found = from.routerMAC(), true
	case from.subnet != nil:
		if nb, ok := from.subnet.byIP[target]; ok && nb != from {
			mac, found = nb.mac, true
		} else if o, ok := from.subnet.vpc.owners[target]; ok && o.kind != ownerENI && from.subnet.cidr.Contains(target) {
			mac, found = from.routerMAC(), true
		}
	default:
		if nb, ok := from.segment.byIP[target]; ok && nb != from {
			mac, found = nb.mac, true
		}
	}
	if !found {
		// The VPC does not answer; the sender's traffic to the address
		// waits and is lost in its own neighbour table, out of sight
		// but for this counter. A gratuitous ARP is no question.
		if target != from.cfg.IP {
			w.drop(DropARPNoOwner)
		}
		return
	}
	w.reply(from, packet.AppendARPReply(w.scratch[:0], mac, target, a.SenderMAC(), a.SenderIP()))
}

// reply writes a frame the emulator itself built (ARP, ND) to e's port.
func (w *worker) reply(e *eni, frame []byte) {
	ps := e.ps
	if imp := ps.imp.Load(); imp != nil && !w.impaired(ps, imp, frame) {
		return
	}
	w.emit(ps, frame, false)
}

// neighbor handles IPv6 that is about the link rather than for forwarding:
// it answers Neighbor Solicitations the way arp answers requests, and
// ignores (counting them apart from errors) the rest of neighbor discovery,
// MLD and anything else to or from a link-local or multicast address. It
// reports whether it took the packet.
func (w *worker) neighbor(from *eni, eth packet.Ethernet, ip packet.IPv6) bool {
	if ip.NextHeader() == packet.ProtoICMPv6 && ip.PayloadLen() >= packet.ICMPLen {
		m := packet.ICMPv6(ip.Payload())
		switch m.Type() {
		case packet.ICMPv6NeighborSolicit:
			if ip.HopLimit() == packet.NDPHopLimit && len(m) >= packet.NDPLen && m.Code() == 0 {
				w.solicit(from, eth, ip, m)
			}
			return true
		case packet.ICMPv6RouterSolicit, packet.ICMPv6RouterAdvert, packet.ICMPv6NeighborAdvert, 137: // 137: redirect
			w.drop(DropIPv6LinkLocal)
			return true
		}
	}
	src, dst := ip.Src(), ip.Dst()
	if dst.IsMulticast() || dst.IsLinkLocalUnicast() || src.IsLinkLocalUnicast() || src.IsUnspecified() {
		w.drop(DropIPv6LinkLocal)
		return true
	}
	return false
}

// solicit answers a Neighbor Solicitation for the router's IPv6 address
// (with the R flag) or a neighbour's (with the neighbour's MAC), whether it
// was multicast to the solicited-node group or unicast (unreachability
// detection).
func (w *worker) solicit(from *eni, eth packet.Ethernet, ip packet.IPv6, m packet.ICMPv6) {
	src := ip.Src()
	if !src.IsLinkLocalUnicast() && !src.IsUnspecified() && src != from.cfg.IPv6 {
		return
	}
	target := packet.NDPTarget(m)
	var mac packet.MAC
	var found, router bool
	switch {
	case !from.cfg.IPv6.IsValid():
	case target == from.router6:
		mac, found, router = from.routerMAC(), true, true
	case from.subnet != nil:
		if nb, ok := from.subnet.byIP[target]; ok && nb != from && target.Is6() {
			mac, found = nb.mac, true
		}
	default:
		if nb, ok := from.segment.byIP[target]; ok && nb != from && target.Is6() {
			mac, found = nb.mac, true
		}
	}
	if !found {
		// As with ARP: unanswered, and counted, unless it is duplicate
		// address detection (unspecified source) or about the sender's
		// own address.
		if from.cfg.IPv6.IsValid() && !src.IsUnspecified() && target != from.cfg.IPv6 {
			w.drop(DropNDPNoOwner)
		}
		return
	}
	w.reply(from, packet.AppendNeighborAdvert(w.scratch[:0], mac, eth.Src(), target, src, router))
}

// rewriteSrc and rewriteDst change an address and fix the IPv4 header
// checksum and, for the first fragment of TCP/UDP, the transport checksum.
func rewriteSrc(ip packet.IPv4, a netip.Addr) { rewriteAddr(ip, true, a) }
func rewriteDst(ip packet.IPv4, a netip.Addr) { rewriteAddr(ip, false, a) }

func rewriteAddr(ip packet.IPv4, src bool, a netip.Addr) {
	var old netip.Addr
	if src {
		old = ip.Src()
		ip.SetSrc(a)
	} else {
		old = ip.Dst()
		ip.SetDst(a)
	}
	ip.SetChecksum(packet.ChecksumAdjustAddr(ip.Checksum(), old, a))
	if ip.FragOffset() != 0 {
		return
	}
	l4 := ip[ip.HeaderLen():]
	switch ip.Protocol() {
	case packet.ProtoTCP:
		if len(l4) >= 18 {
			t := packet.TCP(l4)
			t.SetChecksum(packet.ChecksumAdjustAddr(t.Checksum(), old, a))
		}
	case packet.ProtoUDP:
		if len(l4) >= packet.UDPLen {
			u := packet.UDP(l4)
			if c := u.Checksum(); c != 0 { // 0: no checksum over IPv4
				u.SetChecksum(nonZero(packet.ChecksumAdjustAddr(c, old, a)))
			}
		}
	}
}

// nonZero maps a computed UDP checksum of 0 to 0xffff (RFC 768).
func nonZero(c uint16) uint16 {
	if c == 0 {
		return 0xffff
	}
	return c
}
