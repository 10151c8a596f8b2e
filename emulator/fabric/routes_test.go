package fabric

import (
	"errors"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

func TestRouteEditKeepsEstablishedGWLBFlow(t *testing.T) {
	h := newHarness(t, gwlbLab(false, true))
	syn := tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagSYN, 1460)
	h.send("client", syn)
	first := decap(t, h.recv("fw-1"))
	if n := len(h.f.Flows()); n != 1 {
		t.Fatalf("%d flows before the edit", n)
	}
	before := h.f.lab.Load()
	// An edit elsewhere in the same VPC: the web subnet's outbound goes
	// straight to the internet gateway now.
	if _, err := h.f.EditRoute(RouteEdit{Op: RouteReplace, Table: "app", Destination: p("0.0.0.0/0"), Target: "igw"}); err != nil {
		t.Fatal(err)
	}
	if h.f.lab.Load() == before {
		t.Fatal("the configuration was not swapped")
	}
	fl := h.f.Flows()
	if len(fl) != 1 {
		t.Fatalf("%d flows after the edit, want the established one", len(fl))
	}
	// The flow's next packet (inbound still routes through the endpoint)
	// reaches the same target in the same flow: same cookie, same port.
	h.send("client", tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagACK, 0))
	next := decap(t, h.recv("fw-1"))
	if next.Options.Cookie != first.Options.Cookie || next.UDP.SrcPort() != first.UDP.SrcPort() {
		t.Fatalf("flow changed: cookie %x port %d, was %x port %d", next.Options.Cookie, next.UDP.SrcPort(), first.Options.Cookie, first.UDP.SrcPort())
	}
	// New outbound traffic from web takes the new route: no endpoint.
	h.send("web", tcpFlags(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 5555, 443, packet.TCPFlagSYN, 1460))
	checkIP(t, h.recv("client"), macClient, "203.0.113.10", "198.51.100.10")
	h.none("fw-1")
}

func TestRouteEditKeepsNATConnections(t *testing.T) {
	h := newHarness(t, plainVPC())
	h.send("db", udpFrame(macRouterPriv, macDB, "10.0.3.10", "198.51.100.10", 5000, 53))
	out := packet.IPv4(h.recv("client")[packet.EthernetLen:])
	natPort := packet.UDP(out.Payload()).SrcPort()
	if _, err := h.f.EditRoute(RouteEdit{Op: RouteAdd, Table: "private", Destination: p("192.0.2.0/24"), Target: "blackhole"}); err != nil {
		t.Fatal(err)
	}
	// The answer to the translated connection still finds its mapping.
	h.send("client", udpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.20", 53, natPort))
	checkIP(t, h.recv("db"), macDB, "198.51.100.10", "10.0.3.10")
	// And the new route works.
	h.send("db", udpFrame(macRouterPriv, macDB, "10.0.3.10", "192.0.2.9", 5000, 53))
	if h.f.Drops(DropBlackhole) != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
	if got := h.f.Counters().NATConnections["nat-1"]; got != 1 {
		t.Fatalf("%d NAT connections", got)
	}
}

func TestRouteEditOperations(t *testing.T) {
	h := newHarness(t, plainVPC())
	// Delete web's default route: no way out.
	tbl, err := h.f.EditRoute(RouteEdit{Op: RouteDelete, Table: "app", Destination: p("0.0.0.0/0")})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tbl.Routes {
		if r.Destination == p("0.0.0.0/0") {
			t.Fatalf("route still listed: %+v", tbl.Routes)
		}
	}
	h.send("web", tcpFrame(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 80, 4000))
	if h.f.Drops(DropNoRoute) != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
	// Add it back.
	if _, err := h.f.EditRoute(RouteEdit{Op: RouteAdd, Table: "app", Destination: p("0.0.0.0/0"), Target: "igw"}); err != nil {
		t.Fatal(err)
	}
	h.send("web", tcpFrame(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 80, 4000))
	h.recv("client")
	// The vpc cidr's local route can be replaced, and restored.
	tbl, err = h.f.EditRoute(RouteEdit{Op: RouteReplace, Table: "app", Destination: p("10.0.0.0/16"), Target: "mb"})
	if err != nil {
		t.Fatal(err)
	}
	if last := tbl.Routes[len(tbl.Routes)-1]; last.Kind != config.TargetInstance || last.Implicit {
		t.Fatalf("routes %+v", tbl.Routes)
	}
	tbl, err = h.f.EditRoute(RouteEdit{Op: RouteReplace, Table: "app", Destination: p("10.0.0.0/16"), Target: "local"})
	if err != nil {
		t.Fatal(err)
	}
	if last := tbl.Routes[len(tbl.Routes)-1]; !last.Implicit {
		t.Fatalf("local route not restored: %+v", tbl.Routes)
	}
}

func TestRouteEditRefusals(t *testing.T) {
	h := newHarness(t, gwlbLab(false, true))
	before := h.f.lab.Load()
	for _, c := range []struct {
		e        RouteEdit
		notFound bool
		says     string
	}{
		{RouteEdit{Op: "move", Table: "app", Destination: p("0.0.0.0/0"), Target: "igw"}, false, "not add, replace or delete"},
		{RouteEdit{Op: RouteAdd, Table: "nope", Destination: p("0.0.0.0/0"), Target: "igw"}, true, `route table "nope"`},
		{RouteEdit{Op: RouteAdd, VPC: "nope", Table: "app", Destination: p("0.0.0.0/0"), Target: "igw"}, true, `vpc "nope"`},
		{RouteEdit{Op: RouteAdd, Table: "app", Destination: p("0.0.0.0/0"), Target: "igw"}, false, "already has a route"},
		{RouteEdit{Op: RouteReplace, Table: "app", Destination: p("192.0.2.0/24"), Target: "igw"}, true, "no route for 192.0.2.0/24 to replace"},
		{RouteEdit{Op: RouteDelete, Table: "app", Destination: p("192.0.2.0/24")}, true, "no route for"},
		{RouteEdit{Op: RouteDelete, Table: "app", Destination: p("10.0.0.0/16")}, false, "cannot be deleted"},
		{RouteEdit{Op: RouteDelete, Table: "app", Destination: p("0.0.0.0/0"), Target: "igw"}, false, "not to igw: nothing deleted"},
		{RouteEdit{Op: RouteAdd, Table: "app", Destination: p("192.0.2.7/24"), Target: "igw"}, false, "host bits"},
		{RouteEdit{Op: RouteAdd, Table: "app", Destination: p("2001:db8::/32"), Target: "igw"}, false, "no IPv6 cidr"},
		{RouteEdit{Op: RouteAdd, Table: "app", Destination: p("192.0.2.0/24"), Target: "nat-9"}, false, `"nat-9" is not defined`},
		{RouteEdit{Op: RouteAdd, Table: "app", Destination: p("192.0.2.0/24"), Target: "fw-1"}, false, `belongs to vpc "security"`},
		{RouteEdit{Op: RouteAdd, Table: "app", Destination: p("192.0.2.0/24"), Target: "gwlb-1-az1"}, false, "is not defined"},
		{RouteEdit{Op: RouteAdd, Table: "app", Destination: p("192.0.2.0/24")}, false, "a target is required"},
		{RouteEdit{Op: RouteAdd, Table: "app", Destination: p("192.0.2.0/24"), Target: "local"}, false, "only routes the vpc's own cidr"},
		{RouteEdit{Op: RouteAdd, Table: "edge", Destination: p("192.0.2.0/24"), Target: "gwlbe-1"}, false, "gateway route table only routes"},
		{RouteEdit{Op: RouteAdd, Table: "edge", Destination: p("10.0.2.0/28"), Target: "igw"}, false, "can only target local"},
		{RouteEdit{Op: RouteAdd, Table: "app", Destination: p("10.0.9.0/24"), Target: "gwlbe-1"}, false, "whole subnet cidr"},
		{RouteEdit{Op: RouteReplace, Table: "app", Destination: p("10.0.0.0/16"), Target: "igw"}, false, "can only be routed"},
	} {
		_, err := h.f.EditRoute(c.e)
		switch {
		case err == nil:
			t.Errorf("%+v accepted", c.e)
		case c.notFound && !errors.Is(err, ErrNotFound), !c.notFound && !errors.Is(err, ErrInvalid):
			t.Errorf("%+v: %v: wrong kind of error", c.e, err)
		case !strings.Contains(err.Error(), c.says):
			t.Errorf("%+v: %q does not say %q", c.e, err, c.says)
		}
	}
	if h.f.lab.Load() != before {
		t.Fatal("a refused edit changed the configuration")
	}
}

func TestRouteTableNamesAcrossVPCs(t *testing.T) {
	s := gwlbLab(false, true)
	s.VPCs[0].RouteTables = append(s.VPCs[0].RouteTables, config.RouteTable{Name: "main"})
	h := newHarness(t, s)
	_, err := h.f.EditRoute(RouteEdit{Op: RouteAdd, Table: "main", Destination: p("192.0.2.0/24"), Target: "blackhole"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "name the vpc") {
		t.Fatalf("ambiguous table: %v", err)
	}
	tbl, err := h.f.EditRoute(RouteEdit{Op: RouteAdd, VPC: "security", Table: "main", Destination: p("192.0.2.0/24"), Target: "blackhole"})
	if err != nil || tbl.VPC != "security" || len(tbl.Routes) != 2 {
		t.Fatalf("%+v, %v", tbl, err)
	}
}
