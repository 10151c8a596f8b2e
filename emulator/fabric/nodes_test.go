package fabric

import (
	"context"
	"errors"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

var macWeb3 = config.MAC{0x02, 0, 0, 1, 0, 12}

// web3 is a node to add to plainVPC's (or gwlbLab's) app subnet.
func web3() AddedNode {
	return AddedNode{Subnet: "app", ENI: eniCfg("web3", macWeb3, "10.0.1.12", "", true)}
}

// addNode adds n with a fresh fake port, which it registers in h.ports.
func (h *harness) addNode(n AddedNode) *fakePort {
	h.t.Helper()
	fp := newFakePort(n.ENI.Node)
	if err := h.f.AddNode(n, fp); err != nil {
		h.t.Fatalf("AddNode %s: %v", n.ENI.Node, err)
	}
	h.ports[n.ENI.Node] = fp
	return fp
}

func isClosedPort(fp *fakePort) bool {
	select {
	case <-fp.closed:
		return true
	default:
		return false
	}
}

func TestAddedNodeIsForwarded(t *testing.T) {
	h := newHarness(t, plainVPC())
	h.addNode(web3())

	// ARP both ways: the new node learns its neighbour and the router,
	// and its neighbour learns it.
	h.send("web3", packet.AppendARPRequest(nil, packet.MAC(macWeb3), a("10.0.1.12"), a("10.0.1.10")))
	if got := packet.ARP(h.recv("web3")[packet.EthernetLen:]).SenderMAC(); got != packet.MAC(macWeb) {
		t.Fatalf("web3 asking for web: answered %s", got)
	}
	h.send("web3", packet.AppendARPRequest(nil, packet.MAC(macWeb3), a("10.0.1.12"), a("10.0.1.1")))
	if got := packet.ARP(h.recv("web3")[packet.EthernetLen:]).SenderMAC(); got != packet.MAC(macRouterApp) {
		t.Fatalf("web3 asking for its router: answered %s", got)
	}
	h.send("web", packet.AppendARPRequest(nil, packet.MAC(macWeb), a("10.0.1.10"), a("10.0.1.12")))
	if got := packet.ARP(h.recv("web")[packet.EthernetLen:]).SenderMAC(); got != packet.MAC(macWeb3) {
		t.Fatalf("web asking for web3: answered %s", got)
	}

	// Same subnet, both ways.
	h.send("web3", tcpFrame(macWeb, macWeb3, "10.0.1.12", "10.0.1.10", 40000, 80))
	checkIP(t, h.recv("web"), macWeb, "10.0.1.12", "10.0.1.10")
	h.send("web", tcpFrame(macWeb3, macWeb, "10.0.1.10", "10.0.1.12", 80, 40000))
	checkIP(t, h.recv("web3"), macWeb3, "10.0.1.10", "10.0.1.12")

	// Routed: to another subnet by the app table's local route, and back
	// through the private table, which sends the app subnet to mb.
	h.send("web3", udpFrame(macRouterApp, macWeb3, "10.0.1.12", "10.0.3.10", 40000, 53))
	checkIP(t, h.recv("db"), macDB, "10.0.1.12", "10.0.3.10")
	h.send("db", udpFrame(macRouterPriv, macDB, "10.0.3.10", "10.0.1.12", 53, 40000))
	checkIP(t, h.recv("mb"), macMB, "10.0.3.10", "10.0.1.12")
	h.send("mb", udpFrame(macRouterMbox, macMB, "10.0.3.10", "10.0.1.12", 53, 40000))
	checkIP(t, h.recv("web3"), macWeb3, "10.0.3.10", "10.0.1.12")

	if got := h.f.Snapshot().VPCs[0].Subnets[1].ENIs; len(got) != 3 || got[2].Node != "web3" || got[2].MTU != 9001 {
		t.Fatalf("snapshot's app subnet: %+v", got)
	}
	if got := h.f.AddedNodes(); len(got) != 1 || got[0].VPC != "consumer" || got[0].Subnet != "app" {
		t.Fatalf("added nodes %+v", got)
	}
	for node := range h.ports {
		h.none(node)
	}
}

func TestAddNodeRefusals(t *testing.T) {
	withENI := func(change func(*AddedNode)) AddedNode {
		n := web3()
		change(&n)
		return n
	}
	cases := []struct {
		name string
		node AddedNode
		want error
	}{
		{"name of a node", withENI(func(n *AddedNode) { n.ENI.Node = "web" }), ErrInvalid},
		{"name of a nat gateway", withENI(func(n *AddedNode) { n.ENI.Node = "nat-1" }), ErrInvalid},
		{"name of an internet host", withENI(func(n *AddedNode) { n.ENI.Node = "client" }), ErrInvalid},
		{"bad name", withENI(func(n *AddedNode) { n.ENI.Node = "Web_3" }), ErrInvalid},
		{"reserved name", withENI(func(n *AddedNode) { n.ENI.Node = "local" }), ErrInvalid},
		{"no namespace", withENI(func(n *AddedNode) { n.ENI.NetNS = "" }), ErrInvalid},
		{"address taken", withENI(func(n *AddedNode) { n.ENI.IP = a("10.0.1.11") }), ErrInvalid},
		{"nat gateway's address", withENI(func(n *AddedNode) { n.Subnet = "public"; n.ENI.IP = a("10.0.0.5") }), ErrInvalid},
		{"network address", withENI(func(n *AddedNode) { n.ENI.IP = a("10.0.1.0") }), ErrInvalid},
		{"router", withENI(func(n *AddedNode) { n.ENI.IP = a("10.0.1.1") }), ErrInvalid},
		{"dns", withENI(func(n *AddedNode) { n.ENI.IP = a("10.0.1.2") }), ErrInvalid},
		{"future use", withENI(func(n *AddedNode) { n.ENI.IP = a("10.0.1.3") }), ErrInvalid},
		{"last address", withENI(func(n *AddedNode) { n.ENI.IP = a("10.0.1.255") }), ErrInvalid},
		{"outside the subnet", withENI(func(n *AddedNode) { n.ENI.IP = a("10.0.3.20") }), ErrInvalid},
		{"no IPv4", withENI(func(n *AddedNode) { n.ENI.IP = a("2001:db8::5") }), ErrInvalid},
		{"IPv6 in an IPv4 subnet", withENI(func(n *AddedNode) { n.ENI.IPv6 = a("2001:db8::5") }), ErrInvalid},
		{"public ip", withENI(func(n *AddedNode) { n.ENI.PublicIP = a("203.0.113.99") }), ErrInvalid},
		{"MAC taken", withENI(func(n *AddedNode) { n.ENI.MAC = macWeb }), ErrInvalid},
		{"router's MAC", withENI(func(n *AddedNode) { n.ENI.MAC = macRouterApp }), ErrInvalid},
		{"multicast MAC", withENI(func(n *AddedNode) { n.ENI.MAC = config.MAC{0x03, 0, 0, 0, 0, 1} }), ErrInvalid},
		{"no subnet", withENI(func(n *AddedNode) { n.Subnet = "" }), ErrInvalid},
		{"unknown subnet", withENI(func(n *AddedNode) { n.Subnet = "nope" }), ErrNotFound},
		{"unknown vpc", withENI(func(n *AddedNode) { n.VPC = "nope" }), ErrNotFound},
	}
	h := newHarness(t, plainVPC())
	before := h.f.Snapshot()
	for _, c := range cases {
		fp := newFakePort(c.node.ENI.Node)
		err := h.f.AddNode(c.node, fp)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		if !isClosedPort(fp) {
			t.Errorf("%s: the refused node's port is left open", c.name)
		}
	}
	if h.f.Snapshot() != before || len(h.f.portMap()) != 5 || len(h.f.AddedNodes()) != 0 {
		t.Fatal("a refused node changed the configuration")
	}
	// The same node in a subnet's IPv6 range, once the subnet has one.
	s := plainVPC()
	s.VPCs[0].CIDRs = append(s.VPCs[0].CIDRs, p("2001:db8::/56"))
	s.VPCs[0].Subnets[1].IPv6CIDR, s.VPCs[0].Subnets[1].RouterV6 = p("2001:db8:0:1::/64"), a("2001:db8:0:1::1")
	h = newHarness(t, s)
	n := web3()
	n.ENI.IPv6 = a("2001:db8:0:1::1")
	if err := h.f.AddNode(n, newFakePort("web3")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("node on the IPv6 router's address: %v", err)
	}
	n.ENI.IPv6 = a("2001:db8:0:1::12")
	h.addNode(n)
}

func TestRemoveNode(t *testing.T) {
	h := newHarness(t, plainVPC())
	fp := h.addNode(web3())
	h.send("web3", tcpFrame(macWeb, macWeb3, "10.0.1.12", "10.0.1.10", 40000, 80))
	h.recv("web")
	// A route to the node keeps it.
	if _, err := h.f.EditRoute(RouteEdit{Op: RouteAdd, Table: "mbox", Destination: p("10.0.3.0/24"), Target: "web3"}); err != nil {
		t.Fatal(err)
	}
	if err := h.f.RemoveNode("web3"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("removing a route's target: %v", err)
	}
	if _, err := h.f.EditRoute(RouteEdit{Op: RouteDelete, Table: "mbox", Destination: p("10.0.3.0/24")}); err != nil {
		t.Fatal(err)
	}
	if err := h.f.RemoveNode("web"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("removing a node of the configuration: %v", err)
	}
	if err := h.f.RemoveNode("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing an unknown node: %v", err)
	}
	if err := h.f.RemoveNode("web3"); err != nil {
		t.Fatal(err)
	}
	if !isClosedPort(fp) {
		t.Fatal("the removed node's port is open")
	}
	if h.f.port("web3") != nil || len(h.f.AddedNodes()) != 0 || len(h.f.Snapshot().VPCs[0].Subnets[1].ENIs) != 2 {
		t.Fatal("the removed node is still in the configuration")
	}
	// Nothing reaches it, nothing it sent is forwarded, nobody answers
	// for its address; the others are untouched.
	noOwner := h.f.Drops(DropARPNoOwner)
	h.send("web", packet.AppendARPRequest(nil, packet.MAC(macWeb), a("10.0.1.10"), a("10.0.1.12")))
	if h.f.Drops(DropARPNoOwner) != noOwner+1 {
		t.Fatalf("ARP for the removed node's address: drops %v", nonZeroDrops(h.f))
	}
	h.send("web", tcpFrame(macWeb3, macWeb, "10.0.1.10", "10.0.1.12", 80, 40000))
	h.send("web3", tcpFrame(macWeb, macWeb3, "10.0.1.12", "10.0.1.10", 40000, 80))
	for node := range h.ports {
		h.none(node)
	}
	h.send("web", udpFrame(macRouterApp, macWeb, "10.0.1.10", "10.0.3.10", 40000, 53))
	checkIP(t, h.recv("db"), macDB, "10.0.1.10", "10.0.3.10")
	// Its NAT connections leave with it; db's stay.
	db2 := AddedNode{Subnet: "private", ENI: eniCfg("db2", config.MAC{0x02, 0, 0, 3, 0, 11}, "10.0.3.11", "", true)}
	h.addNode(db2)
	h.send("db2", udpFrame(macRouterPriv, db2.ENI.MAC, "10.0.3.11", "198.51.100.10", 40000, 53))
	h.send("db", udpFrame(macRouterPriv, macDB, "10.0.3.10", "198.51.100.10", 40000, 53))
	h.recv("client")
	h.recv("client")
	if n := h.f.Counters().NATConnections["nat-1"]; n != 2 {
		t.Fatalf("%d NAT connections, want 2", n)
	}
	if err := h.f.RemoveNode("db2"); err != nil {
		t.Fatal(err)
	}
	if n := h.f.Counters().NATConnections["nat-1"]; n != 1 {
		t.Fatalf("%d NAT connections after db2 left, want db's", n)
	}
	if _, err := h.f.Link("web3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("link of a removed node: %v", err)
	}
	// Its name and address can be used again.
	h.addNode(web3())
	h.send("web", tcpFrame(macWeb3, macWeb, "10.0.1.10", "10.0.1.12", 80, 40000))
	checkIP(t, h.recv("web3"), macWeb3, "10.0.1.10", "10.0.1.12")
}

// A node joining and leaving disturbs no other flow: the GWLB flow of web
// keeps its target, cookie and outer port, and the new node's flows leave
// with it.
func TestNodesLeaveOtherFlowsAlone(t *testing.T) {
	h := newHarness(t, gwlbLab(false, true))
	inbound := func() packet.Decapped {
		t.Helper()
		h.send("client", tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagACK, 0))
		return decap(t, h.recv("fw-1"))
	}
	h.send("client", tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagSYN, 1460))
	first := decap(t, h.recv("fw-1"))
	cookie, sport := first.Options.Cookie, first.UDP.SrcPort()

	h.addNode(web3())
	if d := inbound(); d.Options.Cookie != cookie || d.UDP.SrcPort() != sport {
		t.Fatalf("after a node joined: cookie %x port %d, want %x %d", d.Options.Cookie, d.UDP.SrcPort(), cookie, sport)
	}
	// The new node's traffic goes through the endpoint like web's.
	h.send("web3", tcpFlags(macRouterApp, macWeb3, "10.0.1.12", "198.51.100.10", 41000, 443, packet.TCPFlagSYN, 1460))
	d := decap(t, h.recv("fw-1"))
	if inner := packet.IPv4(d.Inner); inner.Src() != a("10.0.1.12") {
		t.Fatalf("inner source %s", inner.Src())
	}
	if n := len(h.f.Flows()); n != 2 {
		t.Fatalf("%d flows, want web's and web3's", n)
	}
	if err := h.f.RemoveNode("web3"); err != nil {
		t.Fatal(err)
	}
	flows := h.f.Flows()
	if len(flows) != 1 || flows[0].Src != "198.51.100.10:40000" {
		t.Fatalf("after web3 left: flows %+v, want web's alone", flows)
	}
	if d := inbound(); d.Options.Cookie != cookie || d.UDP.SrcPort() != sport {
		t.Fatalf("after a node left: cookie %x port %d, want %x %d", d.Options.Cookie, d.UDP.SrcPort(), cookie, sport)
	}
}

// A running fabric starts a reader for each node added and stops it when
// the node leaves: fifty rounds leave no goroutine and no port behind.
func TestAddRemoveLeaksNothing(t *testing.T) {
	h := newHarness(t, plainVPC())
	h.runForwarding(t)
	baseline := goruntime.NumGoroutine()
	for i := range 50 {
		fp := h.addNode(web3())
		fp.in <- tcpFrame(macWeb, macWeb3, "10.0.1.12", "10.0.1.10", 40000, uint16(i))
		select {
		case <-h.ports["web"].out:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: the added node's frame was not forwarded", i)
		}
		if err := h.f.RemoveNode("web3"); err != nil {
			t.Fatal(err)
		}
		if !isClosedPort(fp) {
			t.Fatalf("round %d: port left open", i)
		}
	}
	if n := len(h.f.portMap()); n != 5 {
		t.Fatalf("%d ports, want 5", n)
	}
	// RemoveNode waits for the reader, so the count is back at once; the
	// deadline only covers goroutines of the runtime itself.
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before adding and removing nodes", goruntime.NumGoroutine(), baseline)
		}
		goruntime.Gosched()
	}
}

func TestAddedNodeForwardingDoesNotAllocate(t *testing.T) {
	h := newHarness(t, plainVPC())
	port := h.addNode(web3())
	frame := tcpFrame(macWeb3, macWeb, "10.0.1.10", "10.0.1.12", 80, 40000)
	buf := make([]byte, Headroom+len(frame)+64)
	allocs := testing.AllocsPerRun(200, func() {
		copy(buf[Headroom:], frame)
		h.w.receive("web", buf, Headroom, len(frame))
		<-port.out
	})
	if allocs > 1 { // the fake port's copy
		t.Fatalf("%v allocations per forwarded packet", allocs)
	}
}

// Nodes joining and leaving a running fabric do not disturb traffic
// between the others: every frame from client reaches web, in order,
// while web3 comes and goes.
func TestNodesComeAndGoUnderTraffic(t *testing.T) {
	h := newHarness(t, plainVPC())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.f.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	const frames = 2000
	lost := make(chan int, 1)
	client, web := h.ports["client"], h.ports["web"] // h.ports changes below
	go func() {
		missing := 0
		for i := range frames {
			client.in <- tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", uint16(1024+i), 80)
			select {
			case f := <-web.out:
				if ip := packet.IPv4(f[packet.EthernetLen:]); packet.TCP(ip.Payload()).SrcPort() != uint16(1024+i) {
					missing++
				}
			case <-time.After(10 * time.Second):
				missing++
			}
		}
		lost <- missing
	}()
	for round := 0; ; round++ {
		select {
		case n := <-lost:
			if n != 0 {
				t.Fatalf("%d of %d frames between other nodes lost or reordered while nodes came and went", n, frames)
			}
			if round == 0 {
				t.Fatal("no node came or went while the traffic ran")
			}
			return
		default:
		}
		h.addNode(web3())
		if err := h.f.RemoveNode("web3"); err != nil {
			t.Fatal(err)
		}
	}
}

// runForwarding runs h's fabric until the test ends, and returns once it
// forwards (web to web2) and has marked itself running (Run starts its
// goroutines under the lock before it does).
func (h *harness) runForwarding(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	h.ports["web"].in <- tcpFrame(macWeb2, macWeb, "10.0.1.10", "10.0.1.11", 80, 40000)
	<-h.ports["web2"].out
	for running := false; !running; {
		h.f.run.mu.Lock()
		running = h.f.run.running
		h.f.run.mu.Unlock()
	}
}
