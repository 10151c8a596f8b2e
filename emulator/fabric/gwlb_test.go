package fabric

import (
	"net/netip"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

var (
	macRouterEP    = config.MAC{0x02, 0, 0, 0, 2, 1}
	macRouterGWLB  = config.MAC{0x02, 0, 0, 20, 0, 1}
	macRouterAppl  = config.MAC{0x02, 0, 0, 20, 1, 1}
	macGWLBNode    = config.MAC{0x02, 0, 0, 20, 0, 50}
	macFW1         = config.MAC{0x02, 0, 0, 20, 1, 11}
	endpointID     = "vpce-01506c7254f8aedb0"
	endpointNumber = uint64(0x01506c7254f8aedb0)
)

// gwlbLab is the default lab: web behind gwlbe-1, gwlb-1 with one target.
func gwlbLab(reset, accepted bool) *config.Snapshot {
	return &config.Snapshot{
		Version: config.Version, Lab: "t", TimeScale: 1,
		VPCs: []config.VPC{
			{
				Name: "consumer", CIDRs: []netip.Prefix{p("10.0.0.0/16")}, InternetGateway: "igw", EdgeRouteTable: "edge",
				Subnets: []config.Subnet{
					{Name: "app", AZ: "az1", CIDR: p("10.0.1.0/24"), RouteTable: "app", Router: a("10.0.1.1"), RouterMAC: macRouterApp,
						ENIs: []config.ENI{eniCfg("web", macWeb, "10.0.1.10", "203.0.113.10", true)}},
					{Name: "endpoint", AZ: "az1", CIDR: p("10.0.2.0/28"), RouteTable: "endpoint", Router: a("10.0.2.1"), RouterMAC: macRouterEP},
				},
				RouteTables: []config.RouteTable{
					{Name: "app", Routes: []config.Route{{Destination: p("0.0.0.0/0"), Kind: config.TargetEndpoint, Target: "gwlbe-1"}}},
					{Name: "endpoint", Routes: []config.Route{{Destination: p("0.0.0.0/0"), Kind: config.TargetIGW, Target: "igw"}}},
					{Name: "edge", Routes: []config.Route{{Destination: p("10.0.1.0/24"), Kind: config.TargetEndpoint, Target: "gwlbe-1"}}},
				},
				Endpoints: []config.Endpoint{{Name: "gwlbe-1", ID: endpointID, Subnet: "endpoint", AZ: "az1", IP: a("10.0.2.4"),
					Service: "inspection", GWLB: "gwlb-1", GWLBNode: "gwlb-1-az1", Accepted: accepted}},
			},
			{
				Name: "security", CIDRs: []netip.Prefix{p("10.20.0.0/16")},
				Subnets: []config.Subnet{
					{Name: "gwlb", AZ: "az1", CIDR: p("10.20.0.0/24"), RouteTable: "main", Router: a("10.20.0.1"), RouterMAC: macRouterGWLB,
						ENIs: []config.ENI{eniCfg("gwlb-1-az1", macGWLBNode, "10.20.0.50", "", true)}},
					{Name: "appliances", AZ: "az1", CIDR: p("10.20.1.0/24"), RouteTable: "main", Router: a("10.20.1.1"), RouterMAC: macRouterAppl,
						ENIs: []config.ENI{eniCfg("fw-1", macFW1, "10.20.1.11", "", true)}},
				},
				RouteTables: []config.RouteTable{{Name: "main"}},
			},
		},
		GWLBs: []config.GWLB{{
			Name: "gwlb-1", VPC: "security", TCPIdleTimeout: 350, SendTCPReset: reset,
			Nodes:       []config.GWLBNode{{Name: "gwlb-1-az1", AZ: "az1", Subnet: "gwlb", IP: a("10.20.0.50"), MAC: macGWLBNode}},
			TargetGroup: config.TargetGroup{Name: "tg", Stickiness: "5-tuple", Targets: []config.Target{{Name: "fw-1", IP: a("10.20.1.11"), AZ: "az1"}}},
		}},
		Services: []config.Service{{Name: "inspection", ID: "vpce-svc-0123456789abcdef0", GWLBs: []string{"gwlb-1"}}},
		Internet: &config.Internet{Segments: []config.Segment{{
			CIDR: p("198.51.100.0/24"), Router: a("198.51.100.1"), RouterMAC: macRouterInet,
			Hosts: []config.ENI{eniCfg("client", macClient, "198.51.100.10", "", true)},
		}}},
	}
}

func tcpFlags(dstMAC, srcMAC config.MAC, src, dst string, sport, dport uint16, flags uint8, mss uint16) []byte {
	h := packet.TCPHeader{SrcPort: sport, DstPort: dport, Seq: 1000, Ack: 2000, Flags: flags, Window: 1000}
	if mss != 0 {
		h.Options = packet.MSSOption(mss)
	}
	ip := packet.AppendTCP(nil, packet.IPHeader{Src: a(src), Dst: a(dst)}, h, nil)
	return packet.AppendFrame(nil, packet.MAC(dstMAC), packet.MAC(srcMAC), ip)
}

// reflect turns a GENEVE frame the appliance received into the one it sends
// back: outer addresses swapped, everything else as received (spec §2.4).
func reflect(t *testing.T, f packet.Ethernet) []byte {
	t.Helper()
	return reflectInPlace(append([]byte(nil), f...))
}

func decap(t *testing.T, f packet.Ethernet) packet.Decapped {
	t.Helper()
	d, err := packet.Decap(f)
	if err != nil {
		t.Fatalf("not GWLB GENEVE: %v", err)
	}
	return d
}

func TestGWLBPathBothWays(t *testing.T) {
	h := newHarness(t, gwlbLab(false, true))
	// Inbound SYN: IGW, edge route, endpoint, GWLB, then GENEVE to fw-1.
	h.send("client", tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagSYN, 1460))
	f := h.recv("fw-1")
	if f.Dst() != packet.MAC(macFW1) {
		t.Fatalf("GENEVE to %s", f.Dst())
	}
	d := decap(t, f)
	if d.Outer.Src() != a("10.20.0.50") || d.Outer.Dst() != a("10.20.1.11") || d.UDP.SrcPort() < 49152 ||
		d.Options.EndpointID != endpointNumber || d.Geneve.VNI() != 0 || d.Geneve.OptionsLen() != 32 {
		t.Fatalf("encapsulation %s -> %s sport %d options %+v", d.Outer.Src(), d.Outer.Dst(), d.UDP.SrcPort(), d.Options)
	}
	if len(d.Outer) != len(d.Inner)+packet.EncapOverhead {
		t.Fatalf("overhead %d bytes", len(d.Outer)-len(d.Inner))
	}
	inner := packet.IPv4(d.Inner)
	if inner.Src() != a("198.51.100.10") || inner.Dst() != a("10.0.1.10") {
		t.Fatalf("inner %s -> %s", inner.Src(), inner.Dst())
	}
	sport, cookie := d.UDP.SrcPort(), d.Options.Cookie

	// The appliance returns it; it leaves the endpoint for web.
	h.send("fw-1", reflect(t, f))
	checkIP(t, h.recv("web"), macWeb, "198.51.100.10", "10.0.1.10")

	// The SYN-ACK takes the same flow: same target, port and cookie; its
	// jumbo MSS is clamped to what fits 8500 bytes.
	h.send("web", tcpFlags(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 80, 40000, packet.TCPFlagSYN|packet.TCPFlagACK, 8961))
	f = h.recv("fw-1")
	d = decap(t, f)
	if d.UDP.SrcPort() != sport || d.Options.Cookie != cookie {
		t.Fatalf("reply on port %d cookie %x, want %d %x", d.UDP.SrcPort(), d.Options.Cookie, sport, cookie)
	}
	if mss, _ := packet.TCP(packet.IPv4(d.Inner).Payload()).MSS(); mss != endpointMSS4 {
		t.Fatalf("MSS %d, want %d", mss, endpointMSS4)
	}
	h.send("fw-1", reflect(t, f))
	checkIP(t, h.recv("client"), macClient, "203.0.113.10", "198.51.100.10")

	// A stale cookie is dropped at the GWLB.
	h.send("web", tcpFlags(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 80, 40000, packet.TCPFlagACK, 0))
	bad := reflect(t, h.recv("fw-1"))
	bad[packet.EthernetLen+packet.IPv4Len+packet.UDPLen+0x24] ^= 1
	h.send("fw-1", bad)
	h.none("client")
	if h.f.Drops(DropGWLB) != 1 || h.f.GWLBMetrics()[0].Drops["return_cookie_mismatch"] != 1 {
		t.Fatalf("drops %v %v", nonZeroDrops(h.f), h.f.GWLBMetrics()[0].Drops)
	}
	if fl := h.f.Flows(); len(fl) != 1 || fl[0].Target != "fw-1" || fl[0].OrigPackets != 1 || fl[0].ReplyPackets != 2 {
		t.Fatalf("flows %+v", fl)
	}
}

func TestGWLBResetsUnknownTCP(t *testing.T) {
	h := newHarness(t, gwlbLab(true, true))
	h.send("client", tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagACK, 0))
	h.none("fw-1")
	// The RST comes back from the server's public address.
	ip := checkIP(t, h.recv("client"), macClient, "203.0.113.10", "198.51.100.10")
	tcp := packet.TCP(ip.Payload())
	if tcp.Flags()&packet.TCPFlagRST == 0 || tcp.SrcPort() != 80 || tcp.DstPort() != 40000 || tcp.Seq() != 2000 {
		t.Fatalf("reset flags %#x ports %d->%d seq %d", tcp.Flags(), tcp.SrcPort(), tcp.DstPort(), tcp.Seq())
	}
	// Without send_tcp_reset it is only dropped.
	h2 := newHarness(t, gwlbLab(false, true))
	h2.send("client", tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagACK, 0))
	h2.none("client")
	if h2.f.GWLBMetrics()[0].Drops["tcp_no_flow"] != 1 {
		t.Fatalf("drops %v", h2.f.GWLBMetrics()[0].Drops)
	}
}

func TestEndpointLimits(t *testing.T) {
	h := newHarness(t, gwlbLab(false, false))
	syn := tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagSYN, 0)
	h.send("client", syn)
	h.none("fw-1")
	if h.f.Drops(DropEndpointNotAccepted) != 1 || h.f.Endpoints()[0].State != "pendingAcceptance" {
		t.Fatalf("drops %v endpoints %+v", nonZeroDrops(h.f), h.f.Endpoints())
	}
	if err := h.f.AcceptEndpoint("gwlbe-1"); err != nil {
		t.Fatal(err)
	}
	if err := h.f.AcceptEndpoint("nope"); err == nil {
		t.Fatal("accepted an endpoint that does not exist")
	}
	h.send("client", syn)
	h.recv("fw-1")

	// 8500 bytes pass, 8501 are dropped without an answer (spec §5).
	for _, size := range []int{MaxEndpointPacket, MaxEndpointPacket + 1} {
		ip := packet.AppendUDP(nil, packet.IPHeader{Src: a("10.0.1.10"), Dst: a("198.51.100.10")}, 5000, 53, make([]byte, size-packet.IPv4Len-packet.UDPLen))
		h.send("web", packet.AppendFrame(nil, packet.MAC(macRouterApp), packet.MAC(macWeb), ip))
	}
	if d := decap(t, h.recv("fw-1")); len(d.Inner) != MaxEndpointPacket {
		t.Fatalf("inner of %d bytes", len(d.Inner))
	}
	h.none("fw-1")
	h.none("web")
	if h.f.Drops(DropEndpointTooBig) != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
}

// An endpoint in the workloads' own subnet (spec §6.3, §6.6 #3): what
// leaves it is routed straight back into it. The lab stops the loop.
func TestEndpointInWorkloadSubnetLoopIsStopped(t *testing.T) {
	s := gwlbLab(false, true)
	consumer := &s.VPCs[0]
	consumer.Endpoints[0].Subnet = "app"
	consumer.Endpoints[0].IP = a("10.0.1.4")
	h := newHarness(t, s)
	// Inbound reaches web: the return leaves the endpoint into app, where
	// web is a neighbour.
	h.send("client", tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagSYN, 0))
	h.send("fw-1", reflect(t, h.recv("fw-1")))
	checkIP(t, h.recv("web"), macWeb, "198.51.100.10", "10.0.1.10")
	// The reply goes through the GWLB once, then app's 0.0.0.0/0 would
	// send it back into the endpoint: dropped as a loop, not carried on.
	h.send("web", tcpFlags(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 80, 40000, packet.TCPFlagSYN|packet.TCPFlagACK, 0))
	h.send("fw-1", reflect(t, h.recv("fw-1")))
	h.none("fw-1")
	h.none("client")
	if h.f.Drops(DropRoutingLoop) != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
}
