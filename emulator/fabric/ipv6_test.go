package fabric

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// dualstack adds IPv6 to a test lab the way lab/topology does: VPC number i
// gets 2600:1f18:0:i00::/56, a subnet 10.x.N.0/24 the /64 N of it with its
// router at ::1, every ENI the subnet prefix plus its IPv4 host number, and
// the internet client 2001:db8:1::10 on 2001:db8:1::/64 (router ::1).
func dualstack(s *config.Snapshot) *config.Snapshot {
	for i := range s.VPCs {
		v := &s.VPCs[i]
		v.CIDRs = append(v.CIDRs, p(fmt.Sprintf("2600:1f18:0:%d00::/56", i+1)))
		for j := range v.Subnets {
			sn := &v.Subnets[j]
			n := sn.CIDR.Addr().As4()[2]
			sn.IPv6CIDR = p(fmt.Sprintf("2600:1f18:0:%d%02x::/64", i+1, n))
			sn.RouterV6 = six(sn.IPv6CIDR, 1)
			for k := range sn.ENIs {
				sn.ENIs[k].IPv6 = six(sn.IPv6CIDR, sn.ENIs[k].IP.As4()[3])
			}
		}
	}
	seg := &s.Internet.Segments[0]
	seg.IPv6 = []config.SegmentIPv6{{CIDR: p("2001:db8:1::/64"), Router: a("2001:db8:1::1")}}
	seg.Hosts[0].IPv6 = a("2001:db8:1::10")
	return s
}

func six(pfx netip.Prefix, host byte) netip.Addr {
	b := pfx.Addr().As16()
	b[15] = host
	return netip.AddrFrom16(b)
}

// IPv6 addresses of dualstack(plainVPC()) and dualstack(gwlbLab()).
const (
	web6     = "2600:1f18:0:101::a"
	web26    = "2600:1f18:0:101::b"
	router6  = "2600:1f18:0:101::1"
	db6      = "2600:1f18:0:103::a"
	mb6      = "2600:1f18:0:104::a"
	client6  = "2001:db8:1::10"
	inetRtr6 = "2001:db8:1::1"
)

func tcp6(dstMAC, srcMAC config.MAC, src, dst string, sport, dport uint16, flags uint8, mss uint16) []byte {
	return tcpFlags(dstMAC, srcMAC, src, dst, sport, dport, flags, mss)
}

// checkIP6 asserts the addresses of a delivered IPv6 frame, that the hop
// limit is what the sender set (the VPC router does not decrement it), and
// that the transport checksum is intact.
func checkIP6(t *testing.T, eth packet.Ethernet, dstMAC config.MAC, src, dst string) packet.IPv6 {
	t.Helper()
	if eth.Dst() != packet.MAC(dstMAC) || eth.Type() != packet.EtherTypeIPv6 {
		t.Fatalf("frame to %s type %#x, want %s IPv6", eth.Dst(), eth.Type(), packet.MAC(dstMAC))
	}
	ip := packet.IPv6(eth[packet.EthernetLen:])
	if ip.Validate() != nil || ip.Src() != a(src) || ip.Dst() != a(dst) {
		t.Fatalf("packet %s -> %s, want %s -> %s", ip.Src(), ip.Dst(), src, dst)
	}
	if ip.HopLimit() != 64 {
		t.Fatalf("hop limit %d, want 64 (untouched)", ip.HopLimit())
	}
	if packet.TransportChecksum(ip.NextHeader(), ip.Src(), ip.Dst(), ip.Payload()) != 0 {
		t.Fatal("transport checksum is wrong")
	}
	return ip
}

func TestNeighborDiscovery(t *testing.T) {
	h := newHarness(t, dualstack(plainVPC()))
	cases := []struct {
		name   string
		from   string
		mac    config.MAC
		src    string
		target string
		dstMAC config.MAC // zero: multicast to the solicited-node group
		want   config.MAC // zero: no answer
		router bool
	}{
		{"router", "web", macWeb, web6, router6, config.MAC{}, macRouterApp, true},
		{"router, unicast probe", "web", macWeb, web6, router6, macRouterApp, macRouterApp, true},
		{"router, from link-local", "web", macWeb, "fe80::1", router6, config.MAC{}, macRouterApp, true},
		{"neighbour", "web", macWeb, web6, web26, config.MAC{}, macWeb2, false},
		{"unknown", "web", macWeb, web6, "2600:1f18:0:101::99", config.MAC{}, config.MAC{}, false},
		{"other subnet's router", "db", macDB, db6, router6, config.MAC{}, config.MAC{}, false},
		{"own subnet's router", "db", macDB, db6, "2600:1f18:0:103::1", config.MAC{}, macRouterPriv, true},
		{"spoofed source", "web", macWeb, web26, router6, config.MAC{}, config.MAC{}, false},
		{"internet router", "client", macClient, client6, inetRtr6, config.MAC{}, macRouterInet, true},
		{"internet nobody", "client", macClient, client6, "2001:db8:1::77", config.MAC{}, config.MAC{}, false},
	}
	for _, c := range cases {
		ns := packet.AppendNeighborSolicit(nil, packet.MAC(c.mac), a(c.src), a(c.target))
		if c.dstMAC != (config.MAC{}) {
			eth := packet.Ethernet(ns)
			eth.SetDst(packet.MAC(c.dstMAC))
			ip := packet.IPv6(ns[packet.EthernetLen:])
			ip.SetDst(a(c.target))
			packet.ICMPv6(ip.Payload()).ComputeChecksum(ip.Src(), ip.Dst())
		}
		h.send(c.from, ns)
		if c.want == (config.MAC{}) {
			h.none(c.from)
			continue
		}
		eth := h.recv(c.from)
		ip := packet.IPv6(eth[packet.EthernetLen:])
		m := packet.ICMPv6(ip.Payload())
		if eth.Dst() != packet.MAC(c.mac) || eth.Src() != packet.MAC(c.want) || ip.Src() != a(c.target) || ip.Dst() != a(c.src) ||
			m.Type() != packet.ICMPv6NeighborAdvert || packet.NDPTarget(m) != a(c.target) || !m.ChecksumValid(ip.Src(), ip.Dst()) ||
			packet.MAC(m[packet.NDPLen+2:]) != packet.MAC(c.want) {
			t.Errorf("%s: advert %s -> %s from %s: % x", c.name, ip.Src(), ip.Dst(), eth.Src(), []byte(m))
			continue
		}
		if got := packet.NDPFlags(m)&packet.NDPFlagRouter != 0; got != c.router {
			t.Errorf("%s: router flag %v", c.name, got)
		}
	}
	// Three questions had no owner ("unknown", "other subnet's router",
	// "internet nobody"); the spoofed one is no question of the sender's.
	d := nonZeroDrops(h.f)
	if d["ndp_no_owner"] != 3 || len(d) != 1 {
		t.Fatalf("drops %v, want ndp_no_owner 3 and nothing else", d)
	}
}

func TestIPv6LinkLocalNoiseIsIgnored(t *testing.T) {
	h := newHarness(t, dualstack(plainVPC()))
	frames := map[string][]byte{
		// MLDv2 report to ff02::16 (behind a hop-by-hop header).
		"mld": packet.AppendFrame(nil, packet.MAC{0x33, 0x33, 0, 0, 0, 0x16}, packet.MAC(macWeb),
			packet.AppendIP(nil, packet.IPHeader{Src: a("fe80::1"), Dst: a("ff02::16"), TTL: 1}, packet.ProtoHopByHop, make([]byte, 8))),
		"router solicitation": packet.AppendFrame(nil, packet.MAC{0x33, 0x33, 0, 0, 0, 2}, packet.MAC(macWeb),
			packet.AppendIP(nil, packet.IPHeader{Src: a("fe80::1"), Dst: a("ff02::2"), TTL: 255}, packet.ProtoICMPv6, []byte{133, 0, 0, 0, 0, 0, 0, 0})),
		"link-local unicast": packet.AppendFrame(nil, packet.MAC(macWeb2), packet.MAC(macWeb),
			packet.AppendUDP(nil, packet.IPHeader{Src: a("fe80::1"), Dst: a("fe80::2")}, 1, 2, nil)),
		"unsolicited advert": packet.AppendNeighborAdvert(nil, packet.MAC(macWeb), packet.MAC(macRouterApp), a(web6), netip.Addr{}, false),
	}
	for name, f := range frames {
		before := h.f.Drops(DropIPv6LinkLocal)
		h.send("web", f)
		if h.f.Drops(DropIPv6LinkLocal) != before+1 {
			t.Errorf("%s: drops %v", name, nonZeroDrops(h.f))
		}
	}
	for node := range h.ports {
		h.none(node)
	}
}

func TestIPv6SameSubnetAndMiddlebox(t *testing.T) {
	s := dualstack(plainVPC())
	// private sends app's IPv6 subnet to the middlebox, as it does IPv4.
	s.VPCs[0].RouteTables[2].Routes = append(s.VPCs[0].RouteTables[2].Routes,
		config.Route{Destination: p("2600:1f18:0:101::/64"), Kind: config.TargetInstance, Target: "mb"})
	h := newHarness(t, s)
	h.send("web", tcp6(macRouterApp, macWeb, web6, web26, 1, 80, packet.TCPFlagSYN, 0))
	checkIP6(t, h.recv("web2"), macWeb2, web6, web26)
	h.send("web", tcp6(macWeb2, macWeb, web6, web26, 1, 80, packet.TCPFlagSYN, 0))
	if eth := h.recv("web2"); eth.Src() != packet.MAC(macWeb) {
		t.Fatalf("L2 frame from %s", eth.Src())
	}
	h.send("db", tcp6(macRouterPriv, macDB, db6, web6, 1, 80, packet.TCPFlagSYN, 0))
	checkIP6(t, h.recv("mb"), macMB, db6, web6)
	h.send("mb", tcp6(macRouterMbox, macMB, db6, web6, 1, 80, packet.TCPFlagSYN, 0))
	checkIP6(t, h.recv("web"), macWeb, db6, web6)
	// The local route covers the whole VPC block: db reaches web directly
	// when nothing more specific says otherwise.
	h.send("web", tcp6(macRouterApp, macWeb, web6, db6, 80, 1, packet.TCPFlagSYN|packet.TCPFlagACK, 0))
	checkIP6(t, h.recv("db"), macDB, web6, db6)
}

func TestIPv6ThroughInternetGateway(t *testing.T) {
	s := dualstack(plainVPC())
	s.VPCs[0].RouteTables[1].Routes = append(s.VPCs[0].RouteTables[1].Routes, // app
		config.Route{Destination: p("::/0"), Kind: config.TargetIGW, Target: "igw"})
	s.VPCs[0].RouteTables[2].Routes = append(s.VPCs[0].RouteTables[2].Routes, // private
		config.Route{Destination: p("::/0"), Kind: config.TargetNAT, Target: "nat-1"})
	h := newHarness(t, s)
	// Inbound: no translation, the client's real address arrives.
	for _, f := range [][]byte{
		tcp6(macRouterInet, macClient, client6, web6, 40000, 80, packet.TCPFlagSYN, 1440),
		packet.AppendFrame(nil, packet.MAC(macRouterInet), packet.MAC(macClient), packet.AppendUDP(nil, packet.IPHeader{Src: a(client6), Dst: a(web6)}, 5000, 80, []byte("x"))),
		packet.AppendFrame(nil, packet.MAC(macRouterInet), packet.MAC(macClient), packet.AppendICMPEcho(nil, packet.IPHeader{Src: a(client6), Dst: a(web6)}, false, 7, 1, []byte("x"))),
	} {
		h.send("client", f)
		checkIP6(t, h.recv("web"), macWeb, client6, web6)
	}
	// Outbound: the source stays the instance's own global address.
	h.send("web", tcp6(macRouterApp, macWeb, web6, client6, 80, 40000, packet.TCPFlagSYN|packet.TCPFlagACK, 1440))
	eth := h.recv("client")
	checkIP6(t, eth, macClient, web6, client6)
	if eth.Src() != packet.MAC(macRouterInet) {
		t.Fatalf("frame from %s, want the internet router", eth.Src())
	}
	// db's ::/0 goes to the NAT gateway, which has no NAT64: dropped.
	h.send("db", tcp6(macRouterPriv, macDB, db6, client6, 1, 80, packet.TCPFlagSYN, 0))
	h.none("client")
	if h.f.Drops(DropNATUnsupported) != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
	// But db's address is reachable from the internet: an IGW does not
	// hide IPv6 (AWS would need an egress-only IGW for that).
	h.send("client", tcp6(macRouterInet, macClient, client6, db6, 40000, 80, packet.TCPFlagSYN, 0))
	checkIP6(t, h.recv("db"), macDB, client6, db6)
}

func TestIPv6DropReasons(t *testing.T) {
	s := dualstack(plainVPC())
	s.VPCs[0].RouteTables[3].Routes = []config.Route{{Destination: p("::/0"), Kind: config.TargetIGW, Target: "igw"}} // mbox
	// private sends app's IPv6 subnet to web2, which checks destinations.
	s.VPCs[0].RouteTables[2].Routes = append(s.VPCs[0].RouteTables[2].Routes,
		config.Route{Destination: p("2600:1f18:0:101::/64"), Kind: config.TargetInstance, Target: "web2"})
	h := newHarness(t, s)
	cases := []struct {
		name   string
		node   string
		frame  []byte
		reason Reason
	}{
		{"no route", "web", tcp6(macRouterApp, macWeb, web6, client6, 1, 80, 0, 0), DropNoRoute},
		{"to router", "web", tcp6(macRouterApp, macWeb, web6, router6, 1, 80, 0, 0), DropToRouter},
		{"no such address", "web", tcp6(macRouterApp, macWeb, web6, "2600:1f18:0:103::99", 1, 80, 0, 0), DropNoSuchAddress},
		{"source check", "web", tcp6(macRouterApp, macWeb, web26, db6, 1, 80, 0, 0), DropSourceCheck},
		{"dest check", "db", tcp6(macRouterPriv, macDB, db6, web6, 1, 80, 0, 0), DropDestCheck},
		{"leaves the IGW from outside the VPC block", "mb", tcp6(macRouterMbox, macMB, "2001:db8:99::1", client6, 1, 80, 0, 0), DropIGWNoPublicIP},
		{"spoofed internet host", "client", tcp6(macRouterInet, macClient, "2001:db8:1::99", web6, 1, 80, 0, 0), DropSourceCheck},
		{"internet nowhere", "client", tcp6(macRouterInet, macClient, client6, "2001:db8:dead::1", 1, 80, 0, 0), DropInternetNoRoute},
		{"unknown mac", "web", tcp6(config.MAC{2, 9, 9, 9, 9, 9}, macWeb, web6, web26, 1, 80, 0, 0), DropUnknownMAC},
		{"truncated", "web", tcp6(macRouterApp, macWeb, web6, web26, 1, 80, 0, 0)[:50], DropMalformed},
	}
	for _, c := range cases {
		before := h.f.Drops(c.reason)
		h.send(c.node, c.frame)
		if got := h.f.Drops(c.reason); got != before+1 {
			t.Errorf("%s: %s went %d -> %d; drops %v", c.name, c.reason, before, got, nonZeroDrops(h.f))
		}
	}
	for node := range h.ports {
		h.none(node)
	}
	// An IPv4-only ENI cannot send IPv6 at all.
	h2 := newHarness(t, plainVPC())
	h2.send("web", tcp6(macRouterApp, macWeb, web6, web26, 1, 80, 0, 0))
	if h2.f.Drops(DropSourceCheck) != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h2.f))
	}
}

// gwlbLab6 is gwlbLab with IPv6 and the dualstack routes of spec §2.5/§6.2.
func gwlbLab6() *config.Snapshot {
	s := dualstack(gwlbLab(false, true))
	rts := s.VPCs[0].RouteTables
	rts[0].Routes = append(rts[0].Routes, config.Route{Destination: p("::/0"), Kind: config.TargetEndpoint, Target: "gwlbe-1"})
	rts[1].Routes = append(rts[1].Routes, config.Route{Destination: p("::/0"), Kind: config.TargetIGW, Target: "igw"})
	rts[2].Routes = append(rts[2].Routes, config.Route{Destination: p("2600:1f18:0:101::/64"), Kind: config.TargetEndpoint, Target: "gwlbe-1"})
	return s
}

func TestGWLBPathIPv6BothWays(t *testing.T) {
	h := newHarness(t, gwlbLab6())
	// Inbound SYN: IGW (untranslated), edge route, endpoint, GWLB, GENEVE
	// with protocol 0x86DD in the IPv4 outer (spec §2.5).
	h.send("client", tcp6(macRouterInet, macClient, client6, web6, 40000, 80, packet.TCPFlagSYN, 1440))
	f := h.recv("fw-1")
	d := decap(t, f)
	if d.Geneve.Protocol() != packet.EtherTypeIPv6 || d.Outer.Src() != a("10.20.0.50") || d.Outer.Dst() != a("10.20.1.11") {
		t.Fatalf("encapsulation %s -> %s protocol %#x", d.Outer.Src(), d.Outer.Dst(), d.Geneve.Protocol())
	}
	inner := packet.IPv6(d.Inner)
	if inner.Src() != a(client6) || inner.Dst() != a(web6) || inner.HopLimit() != 64 {
		t.Fatalf("inner %s -> %s hop limit %d", inner.Src(), inner.Dst(), inner.HopLimit())
	}
	sport, cookie := d.UDP.SrcPort(), d.Options.Cookie
	h.send("fw-1", reflect(t, f))
	checkIP6(t, h.recv("web"), macWeb, client6, web6)

	// SYN-ACK: ::/0 -> gwlbe-1, same flow, MSS clamped for IPv6.
	h.send("web", tcp6(macRouterApp, macWeb, web6, client6, 80, 40000, packet.TCPFlagSYN|packet.TCPFlagACK, 8941))
	f = h.recv("fw-1")
	d = decap(t, f)
	if d.UDP.SrcPort() != sport || d.Options.Cookie != cookie {
		t.Fatalf("reply on port %d cookie %x, want %d %x", d.UDP.SrcPort(), d.Options.Cookie, sport, cookie)
	}
	if mss, _ := packet.TCP(packet.IPv6(d.Inner).Payload()).MSS(); mss != endpointMSS6 {
		t.Fatalf("MSS %d, want %d", mss, endpointMSS6)
	}
	h.send("fw-1", reflect(t, f))
	checkIP6(t, h.recv("client"), macClient, web6, client6)
	if fl := h.f.Flows(); len(fl) != 1 || fl[0].Target != "fw-1" || fl[0].OrigPackets != 1 || fl[0].ReplyPackets != 1 {
		t.Fatalf("flows %+v", fl)
	}
	// IPv4 still takes the same path in the same lab.
	h.send("client", tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40001, 80, packet.TCPFlagSYN, 1460))
	h.send("fw-1", reflect(t, h.recv("fw-1")))
	checkIP(t, h.recv("web"), macWeb, "198.51.100.10", "10.0.1.10")
}

// Without ::/0 -> gwlbe in the app subnet (spec §6.6 #15) the reply skips
// the endpoint: here the app table has no IPv6 default route at all, so it
// is dropped, and the appliance saw one direction only.
func TestGWLBIPv6WithoutIPv6DefaultRoute(t *testing.T) {
	s := gwlbLab6()
	s.VPCs[0].RouteTables[0].Routes = s.VPCs[0].RouteTables[0].Routes[:1]
	h := newHarness(t, s)
	h.send("client", tcp6(macRouterInet, macClient, client6, web6, 40000, 80, packet.TCPFlagSYN, 1440))
	h.send("fw-1", reflect(t, h.recv("fw-1")))
	checkIP6(t, h.recv("web"), macWeb, client6, web6)
	h.send("web", tcp6(macRouterApp, macWeb, web6, client6, 80, 40000, packet.TCPFlagSYN|packet.TCPFlagACK, 0))
	h.none("fw-1")
	h.none("client")
	if h.f.Drops(DropNoRoute) != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
}

func TestIPv6ForwardingDoesNotAllocate(t *testing.T) {
	s := dualstack(plainVPC())
	h := newHarness(t, s)
	frame := tcp6(macRouterInet, macClient, client6, web6, 40000, 80, packet.TCPFlagACK, 0)
	ns := packet.AppendNeighborSolicit(nil, packet.MAC(macWeb), a(web6), a(router6))
	buf := make([]byte, Headroom+len(frame)+64)
	for name, c := range map[string]struct {
		node, to string
		frame    []byte
	}{"forward": {"client", "web", frame}, "neighbor advert": {"web", "web", ns}} {
		port := h.ports[c.to]
		allocs := testing.AllocsPerRun(200, func() {
			copy(buf[Headroom:], c.frame)
			h.w.receive(c.node, buf, Headroom, len(c.frame))
			<-port.out
		})
		if allocs > 1 { // the fake port's copy
			t.Fatalf("%s: %v allocations per packet", name, allocs)
		}
	}
	// Through the GWLB and back.
	h = newHarness(t, gwlbLab6())
	h.send("client", tcp6(macRouterInet, macClient, client6, web6, 40000, 80, packet.TCPFlagSYN, 0))
	geneve := reflect(t, h.recv("fw-1"))
	h.send("fw-1", geneve)
	h.recv("web")
	big := make([]byte, Headroom+len(geneve)+64)
	for name, c := range map[string]struct {
		node, to string
		frame    []byte
	}{"to the appliance": {"client", "fw-1", frame}, "back from it": {"fw-1", "web", geneve}} {
		port := h.ports[c.to]
		allocs := testing.AllocsPerRun(200, func() {
			// One packet over and over at one instant is a loop to
			// the loop guard: let its window pass between copies.
			h.clock.Advance(loopWindow)
			copy(big[Headroom:], c.frame)
			h.w.receive(c.node, big, Headroom, len(c.frame))
			<-port.out
		})
		if allocs > 1 {
			t.Fatalf("%s: %v allocations per packet", name, allocs)
		}
	}
}

func TestGWLBResetsUnknownTCPOverIPv6(t *testing.T) {
	s := gwlbLab6()
	s.GWLBs[0].SendTCPReset = true
	h := newHarness(t, s)
	h.send("client", tcp6(macRouterInet, macClient, client6, web6, 40000, 80, packet.TCPFlagACK, 0))
	h.none("fw-1")
	ip := checkIP6(t, h.recv("client"), macClient, web6, client6)
	tcp := packet.TCP(ip.Payload())
	if tcp.Flags()&packet.TCPFlagRST == 0 || tcp.SrcPort() != 80 || tcp.DstPort() != 40000 {
		t.Fatalf("reset flags %#x ports %d->%d", tcp.Flags(), tcp.SrcPort(), tcp.DstPort())
	}
}
