package fabric

import (
	"context"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

func TestARP(t *testing.T) {
	h := newHarness(t, plainVPC())
	cases := []struct {
		from   string
		mac    config.MAC
		ip     string
		target string
		want   config.MAC // zero: no answer
	}{
		{"web", macWeb, "10.0.1.10", "10.0.1.1", macRouterApp},
		{"web", macWeb, "10.0.1.10", "10.0.1.11", macWeb2},
		{"web", macWeb, "10.0.1.10", "10.0.1.99", config.MAC{}},
		{"db", macDB, "10.0.3.10", "10.0.3.1", macRouterPriv},
		{"client", macClient, "198.51.100.10", "198.51.100.1", macRouterInet},
		{"client", macClient, "198.51.100.10", "198.51.100.77", config.MAC{}},
		{"web", macWeb, "10.0.1.10", "10.0.1.10", config.MAC{}}, // gratuitous
	}
	for _, c := range cases {
		req := packet.AppendARPRequest(nil, packet.MAC(c.mac), a(c.ip), a(c.target))
		before := h.f.Drops(DropARPNoOwner)
		h.send(c.from, req)
		if c.want == (config.MAC{}) {
			h.none(c.from)
			// Nobody owns the address: counted, so that a user sees why
			// the node cannot reach it; a gratuitous ARP is not.
			want := before + 1
			if c.target == c.ip {
				want = before
			}
			if got := h.f.Drops(DropARPNoOwner); got != want {
				t.Errorf("%s asking for %s: arp_no_owner %d, want %d", c.from, c.target, got, want)
			}
			continue
		}
		eth := h.recv(c.from)
		arp := packet.ARP(eth[packet.EthernetLen:])
		if arp.Op() != packet.ARPReply || arp.SenderMAC() != packet.MAC(c.want) || arp.SenderIP() != a(c.target) || arp.TargetIP() != a(c.ip) || eth.Dst() != packet.MAC(c.mac) {
			t.Errorf("%s asking for %s: reply %s is-at %s to %s", c.from, c.target, arp.SenderIP(), arp.SenderMAC(), eth.Dst())
		}
	}
}

func TestInternetToPublicAddressAndBack(t *testing.T) {
	h := newHarness(t, plainVPC())
	// Inbound: the IGW translates the public destination to the private one
	// and keeps the client's real address.
	h.send("client", tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80))
	checkIP(t, h.recv("web"), macWeb, "198.51.100.10", "10.0.1.10")
	// Outbound: the source becomes the public address.
	h.send("web", tcpFrame(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 80, 40000))
	eth := h.recv("client")
	checkIP(t, eth, macClient, "203.0.113.10", "198.51.100.10")
	if eth.Src() != packet.MAC(macRouterInet) {
		t.Fatalf("frame from %s, want the internet router", eth.Src())
	}
	// UDP and ICMP too.
	h.send("client", udpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 5000, 53))
	checkIP(t, h.recv("web"), macWeb, "198.51.100.10", "10.0.1.10")
	h.send("web", echoFrame(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", false, 9))
	checkIP(t, h.recv("client"), macClient, "203.0.113.10", "198.51.100.10")
}

func TestNATGateway(t *testing.T) {
	h := newHarness(t, plainVPC())
	for _, proto := range []string{"tcp", "udp", "icmp"} {
		var out, back []byte
		switch proto {
		case "tcp":
			out = tcpFrame(macRouterPriv, macDB, "10.0.3.10", "198.51.100.10", 41000, 80)
		case "udp":
			out = udpFrame(macRouterPriv, macDB, "10.0.3.10", "198.51.100.10", 41000, 80)
		case "icmp":
			out = echoFrame(macRouterPriv, macDB, "10.0.3.10", "198.51.100.10", false, 41000)
		}
		h.send("db", out)
		ip := checkIP(t, h.recv("client"), macClient, "203.0.113.20", "198.51.100.10")
		var natPort uint16
		switch proto {
		case "tcp":
			natPort = packet.TCP(ip.Payload()).SrcPort()
			back = tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.20", 80, natPort)
		case "udp":
			natPort = packet.UDP(ip.Payload()).SrcPort()
			back = udpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.20", 80, natPort)
		case "icmp":
			natPort = packet.ICMPv4(ip.Payload()).EchoID()
			back = echoFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.20", true, natPort)
		}
		h.send("client", back)
		ip = checkIP(t, h.recv("db"), macDB, "198.51.100.10", "10.0.3.10")
		var restored uint16
		switch proto {
		case "tcp":
			restored = packet.TCP(ip.Payload()).DstPort()
		case "udp":
			restored = packet.UDP(ip.Payload()).DstPort()
		case "icmp":
			restored = packet.ICMPv4(ip.Payload()).EchoID()
		}
		if restored != 41000 {
			t.Errorf("%s: reply reached db on port %d, want 41000", proto, restored)
		}
	}
	if n := h.f.Counters().NATConnections["nat-1"]; n != 3 {
		t.Errorf("NAT tracks %d connections, want 3", n)
	}
	// Unsolicited traffic to the NAT gateway's public address is dropped.
	h.send("client", tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.20", 80, 1999))
	h.none("db")
	if h.f.Drops(DropNATNoMapping) != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
	// After the idle timeout the mapping is gone.
	h.clock.Advance(351 * time.Second)
	h.send("client", tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.20", 80, 1024))
	h.none("db")
	if h.f.Drops(DropNATNoMapping) != 2 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
}

func TestPrivateInstanceUnreachableFromInternet(t *testing.T) {
	s := plainVPC()
	// Give db a direct route to the IGW: without a public address it still
	// cannot leave.
	s.VPCs[0].RouteTables[2].Routes[0] = config.Route{Destination: p("0.0.0.0/0"), Kind: config.TargetIGW, Target: "igw"}
	h := newHarness(t, s)
	h.send("db", tcpFrame(macRouterPriv, macDB, "10.0.3.10", "198.51.100.10", 41000, 80))
	h.none("client")
	if h.f.Drops(DropIGWNoPublicIP) != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
	// Nor can anything on the internet address it.
	h.send("client", tcpFrame(macRouterInet, macClient, "198.51.100.10", "10.0.3.10", 1, 80))
	h.none("db")
	if h.f.Drops(DropInternetNoRoute) != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
}

func TestSameSubnetBypassesRouteTable(t *testing.T) {
	s := plainVPC()
	// app sends its own CIDR to the middlebox and everything else to a
	// blackhole: neighbours in the subnet still reach each other directly
	// (spec §6.3).
	s.VPCs[0].RouteTables[1].Routes = []config.Route{
		{Destination: p("0.0.0.0/0"), Kind: config.TargetBlackhole},
		{Destination: p("10.0.1.0/24"), Kind: config.TargetInstance, Target: "mb"},
	}
	h := newHarness(t, s)
	// Through the router MAC...
	h.send("web", tcpFrame(macRouterApp, macWeb, "10.0.1.10", "10.0.1.11", 1, 80))
	checkIP(t, h.recv("web2"), macWeb2, "10.0.1.10", "10.0.1.11")
	h.none("mb")
	// ...and at L2, keeping the sender's MAC.
	h.send("web", tcpFrame(macWeb2, macWeb, "10.0.1.10", "10.0.1.11", 1, 80))
	if eth := h.recv("web2"); eth.Src() != packet.MAC(macWeb) {
		t.Fatalf("L2 frame from %s", eth.Src())
	}
	// Leaving the subnet hits the blackhole.
	h.send("web", tcpFrame(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 1, 80))
	h.none("client")
	if h.f.Drops(DropBlackhole) != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
}

func TestMiddleboxRouteAndSourceDestCheck(t *testing.T) {
	h := newHarness(t, plainVPC())
	// private routes 10.0.1.0/24 to mb: mb sees the original addresses.
	h.send("db", tcpFrame(macRouterPriv, macDB, "10.0.3.10", "10.0.1.10", 1, 80))
	checkIP(t, h.recv("mb"), macMB, "10.0.3.10", "10.0.1.10")
	// mb (check disabled) forwards it on; its route table's local route
	// delivers to web.
	h.send("mb", tcpFrame(macRouterMbox, macMB, "10.0.3.10", "10.0.1.10", 1, 80))
	checkIP(t, h.recv("web"), macWeb, "10.0.3.10", "10.0.1.10")

	// With the check on, mb can neither receive for others nor forward.
	s := plainVPC()
	s.VPCs[0].Subnets[3].ENIs[0].SourceDestCheck = true
	h2 := newHarness(t, s)
	h2.send("db", tcpFrame(macRouterPriv, macDB, "10.0.3.10", "10.0.1.10", 1, 80))
	h2.none("mb")
	h2.send("mb", tcpFrame(macRouterMbox, macMB, "10.0.3.10", "10.0.1.10", 1, 80))
	h2.none("web")
	d := h2.f.Counters().Drops
	if d["dest_check"] != 1 || d["source_check"] != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h2.f))
	}
}

func TestDropReasons(t *testing.T) {
	s := plainVPC()
	s.VPCs[0].RouteTables[3].Routes = nil // mbox: only local
	h := newHarness(t, s)
	cases := []struct {
		name   string
		node   string
		frame  []byte
		reason Reason
	}{
		{"no route", "mb", tcpFrame(macRouterMbox, macMB, "10.0.4.10", "198.51.100.10", 1, 80), DropNoRoute},
		{"blackhole", "web", tcpFrame(macRouterApp, macWeb, "10.0.1.10", "192.0.2.5", 1, 80), DropBlackhole},
		{"no such address", "web", tcpFrame(macRouterApp, macWeb, "10.0.1.10", "10.0.9.9", 1, 80), DropNoSuchAddress},
		{"to router", "web", tcpFrame(macRouterApp, macWeb, "10.0.1.10", "10.0.1.1", 1, 80), DropToRouter},
		{"unknown mac", "web", tcpFrame(config.MAC{2, 9, 9, 9, 9, 9}, macWeb, "10.0.1.10", "10.0.1.11", 1, 80), DropUnknownMAC},
		{"broadcast", "web", tcpFrame(config.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, macWeb, "10.0.1.10", "10.0.1.11", 1, 80), DropBroadcast},
		{"spoofed internet host", "client", tcpFrame(macRouterInet, macClient, "198.51.100.99", "203.0.113.10", 1, 80), DropSourceCheck},
		{"internet nowhere", "client", tcpFrame(macRouterInet, macClient, "198.51.100.10", "8.8.8.8", 1, 80), DropInternetNoRoute},
		{"truncated", "web", tcpFrame(macRouterApp, macWeb, "10.0.1.10", "10.0.1.11", 1, 80)[:30], DropMalformed},
		{"lldp", "web", append(packet.AppendEthernet(nil, packet.MAC(macRouterApp), packet.MAC(macWeb), 0x88cc), make([]byte, 40)...), DropNotIP},
		{"not ipv6", "web", append(packet.AppendEthernet(nil, packet.MAC(macRouterApp), packet.MAC(macWeb), packet.EtherTypeIPv6), make([]byte, 40)...), DropMalformed},
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
}

func TestRoutingLoopIsBounded(t *testing.T) {
	s := plainVPC()
	// The NAT gateway's own subnet routes everything back to it.
	s.VPCs[0].RouteTables[0].Routes = []config.Route{{Destination: p("0.0.0.0/0"), Kind: config.TargetNAT, Target: "nat-1"}}
	h := newHarness(t, s)
	h.send("db", udpFrame(macRouterPriv, macDB, "10.0.3.10", "198.51.100.10", 1, 80))
	if h.f.Drops(DropRoutingLoop) != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
}

func TestForwardingDoesNotAllocate(t *testing.T) {
	h := newHarness(t, plainVPC())
	frame := tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80)
	buf := make([]byte, Headroom+len(frame)+64)
	port := h.ports["web"]
	allocs := testing.AllocsPerRun(200, func() {
		copy(buf[Headroom:], frame)
		h.w.receive("client", buf, Headroom, len(frame))
		<-port.out
	})
	// The fake port copies each written frame (1 allocation); the fabric
	// itself must add nothing.
	if allocs > 1 {
		t.Fatalf("%v allocations per forwarded packet", allocs)
	}
}

func TestRunStopsAndClosesPorts(t *testing.T) {
	h := newHarness(t, plainVPC())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.f.Run(ctx) }()
	h.ports["client"].in <- tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80)
	select {
	case f := <-h.ports["web"].out:
		checkIP(t, f, macWeb, "198.51.100.10", "10.0.1.10")
	case <-time.After(10 * time.Second):
		t.Fatal("frame not forwarded by the running fabric")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	c := h.f.Counters()
	for _, pc := range c.Ports {
		if pc.Node == "client" && pc.RxPkts != 1 || pc.Node == "web" && pc.TxPkts != 1 {
			t.Errorf("counters %+v", pc)
		}
	}
}
