package fabric

import "github.com/gwlb-lab/gwlb-lab/emulator/packet"

// l4ports returns the ports (or the ICMP echo identifier as the source port)
// that NAT translates, and whether the packet can be translated at all.
func l4ports(ip packet.IPv4, outbound bool) (sport, dport uint16, ok bool) {
	if ip.MF() || ip.FragOffset() != 0 {
		return 0, 0, false
	}
	l4 := ip[ip.HeaderLen():]
	switch ip.Protocol() {
	case packet.ProtoTCP:
		if len(l4) < 20 {
			return 0, 0, false
		}
		t := packet.TCP(l4)
		return t.SrcPort(), t.DstPort(), true
	case packet.ProtoUDP:
		if len(l4) < packet.UDPLen {
			return 0, 0, false
		}
		u := packet.UDP(l4)
		return u.SrcPort(), u.DstPort(), true
	case packet.ProtoICMP:
		if len(l4) < packet.ICMPLen {
			return 0, 0, false
		}
		m := packet.ICMPv4(l4)
		want := uint8(8) // echo request leaves
		if !outbound {
			want = 0 // echo reply comes back
		}
		if m.Type() != want {
			return 0, 0, false
		}
		if outbound {
			return m.EchoID(), 0, true
		}
		return 0, m.EchoID(), true
	}
	return 0, 0, false
}

// natOut translates a packet leaving through NAT gateway n: source address
// to the gateway's, source port (or echo identifier) to an allocated one.
func (w *worker) natOut(p *pkt, n *natGW) bool {
	ip := p.ip()
	sport, dport, ok := l4ports(ip, true)
	if !ok {
		w.drop(DropNATUnsupported)
		return false
	}
	k := natKey{proto: ip.Protocol(), src: ip.Src(), dst: ip.Dst(), srcPort: sport, dstPort: dport}
	np, ok := n.table.outbound(k, w.now())
	if !ok {
		w.drop(DropNATExhausted)
		return false
	}
	if w.tr != nil {
		w.note("nat gateway %s: source %s port %d -> %s port %d", n.cfg.Name, ip.Src(), sport, n.cfg.IP, np)
	}
	rewriteSrc(ip, n.cfg.IP)
	setPort(ip, true, np)
	return true
}

// natIn translates a reply arriving at NAT gateway n back to the instance.
func (w *worker) natIn(p *pkt, n *natGW) bool {
	ip := p.ip()
	sport, dport, ok := l4ports(ip, false)
	if !ok {
		w.drop(DropNATNoMapping)
		return false
	}
	addr, port, ok := n.table.inbound(ip.Protocol(), ip.Src(), sport, dport, w.now())
	if !ok {
		if w.tr != nil {
			w.note("nat gateway %s: no connection for %s port %d to port %d", n.cfg.Name, ip.Src(), sport, dport)
		}
		w.drop(DropNATNoMapping)
		return false
	}
	if w.tr != nil {
		w.note("nat gateway %s: destination port %d -> %s port %d; routed by subnet %s's table", n.cfg.Name, dport, addr, port, n.subnet.name)
	}
	rewriteDst(ip, addr)
	setPort(ip, false, port)
	return true
}

// setPort rewrites the source or destination port (for ICMP echo: the
// identifier, whichever side) and fixes the transport checksum.
func setPort(ip packet.IPv4, src bool, port uint16) {
	l4 := ip[ip.HeaderLen():]
	switch ip.Protocol() {
	case packet.ProtoTCP:
		t := packet.TCP(l4)
		old := t.DstPort()
		if src {
			old = t.SrcPort()
			t.SetSrcPort(port)
		} else {
			t.SetDstPort(port)
		}
		t.SetChecksum(packet.ChecksumAdjust16(t.Checksum(), old, port))
	case packet.ProtoUDP:
		u := packet.UDP(l4)
		old := u.DstPort()
		if src {
			old = u.SrcPort()
			u.SetSrcPort(port)
		} else {
			u.SetDstPort(port)
		}
		if c := u.Checksum(); c != 0 {
			u.SetChecksum(nonZero(packet.ChecksumAdjust16(c, old, port)))
		}
	case packet.ProtoICMP:
		m := packet.ICMPv4(l4)
		old := m.EchoID()
		m.SetEchoID(port)
		m.SetChecksum(packet.ChecksumAdjust16(m.Checksum(), old, port))
	}
}
