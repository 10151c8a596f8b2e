package fabric

import (
	"fmt"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"net/netip"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

func mac(b4, b5 byte) config.MAC { return config.MAC{0x02, 0, 0, 7, b4, b5} }

// tgwLab is three VPCs on one transit gateway: spokes a (AZs az1, az2, and
// az3 where its attachment has no subnet) and b (az1, az2), and a hub whose
// attachment subnets send everything to a middlebox per AZ (mb1 for az1,
// mb2 for az2), which sends it back to the TGW. Spokes are associated with
// table spokes (0/0 to the hub, a blackhole in b), the hub with table hub
// (the spokes' CIDRs, propagated).
func tgwLab(applianceMode bool) *config.Snapshot {
	sub := func(name, az, cidr string, table string, b byte, enis ...config.ENI) config.Subnet {
		pf := p(cidr)
		return config.Subnet{Name: name, AZ: az, CIDR: pf, RouteTable: table, Router: pf.Addr().Next(), RouterMAC: mac(b, 1), ENIs: enis}
	}
	toTGW := []config.Route{{Destination: p("0.0.0.0/0"), Kind: config.TargetTGW, Target: "tgw"}}
	return &config.Snapshot{
		Version: config.Version, Lab: "t", TimeScale: 1,
		VPCs: []config.VPC{
			{Name: "a", CIDRs: []netip.Prefix{p("10.1.0.0/16")},
				Subnets: []config.Subnet{
					sub("a1", "az1", "10.1.1.0/24", "a", 0x11, eniCfg("va1", mac(0x11, 10), "10.1.1.10", "", true)),
					sub("a2", "az2", "10.1.2.0/24", "a", 0x12, eniCfg("va2", mac(0x12, 10), "10.1.2.10", "", true)),
					sub("a3", "az3", "10.1.3.0/24", "a", 0x13, eniCfg("va3", mac(0x13, 10), "10.1.3.10", "", true)),
				},
				RouteTables: []config.RouteTable{{Name: "a", Routes: toTGW}}},
			{Name: "b", CIDRs: []netip.Prefix{p("10.2.0.0/16")},
				Subnets: []config.Subnet{
					sub("b1", "az1", "10.2.1.0/24", "b", 0x21, eniCfg("vb1", mac(0x21, 10), "10.2.1.10", "", true)),
					sub("b2", "az2", "10.2.2.0/24", "b", 0x22, eniCfg("vb2", mac(0x22, 10), "10.2.2.10", "", true)),
				},
				RouteTables: []config.RouteTable{{Name: "b", Routes: toTGW}}},
			{Name: "hub", CIDRs: []netip.Prefix{p("10.3.0.0/16")},
				Subnets: []config.Subnet{
					sub("h1", "az1", "10.3.1.0/24", "h1", 0x31),
					sub("h2", "az2", "10.3.2.0/24", "h2", 0x32),
					sub("m", "az1", "10.3.9.0/24", "m", 0x39,
						eniCfg("mb1", mac(0x39, 10), "10.3.9.10", "", false), eniCfg("mb2", mac(0x39, 11), "10.3.9.11", "", false)),
				},
				RouteTables: []config.RouteTable{
					{Name: "h1", Routes: []config.Route{{Destination: p("0.0.0.0/0"), Kind: config.TargetInstance, Target: "mb1"}}},
					{Name: "h2", Routes: []config.Route{{Destination: p("0.0.0.0/0"), Kind: config.TargetInstance, Target: "mb2"}}},
					{Name: "m", Routes: toTGW},
				}},
		},
		TransitGateways: []config.TransitGateway{{
			Name: "tgw",
			Attachments: []config.TGWAttachment{
				{Name: "att-a", VPC: "a", RouteTable: "spokes", ENIs: []config.TGWENI{{Subnet: "a1", AZ: "az1", IP: a("10.1.1.5")}, {Subnet: "a2", AZ: "az2", IP: a("10.1.2.5")}}},
				{Name: "att-b", VPC: "b", RouteTable: "spokes", ENIs: []config.TGWENI{{Subnet: "b2", AZ: "az2", IP: a("10.2.2.5")}, {Subnet: "b1", AZ: "az1", IP: a("10.2.1.5")}}},
				{Name: "att-hub", VPC: "hub", RouteTable: "hub", ApplianceMode: applianceMode, ENIs: []config.TGWENI{{Subnet: "h1", AZ: "az1", IP: a("10.3.1.5")}, {Subnet: "h2", AZ: "az2", IP: a("10.3.2.5")}}},
			},
			RouteTables: []config.TGWRouteTable{
				{Name: "spokes", Routes: []config.TGWRoute{
					{Destination: p("0.0.0.0/0"), Attachment: "att-hub"},
					{Destination: p("10.2.9.0/24"), Blackhole: true},
				}},
				{Name: "hub", Routes: []config.TGWRoute{
					{Destination: p("10.1.0.0/16"), Attachment: "att-a", Propagated: true},
					{Destination: p("10.2.0.0/16"), Attachment: "att-b", Propagated: true},
				}},
			},
		}},
	}
}

func TestTGWRouteTablePrecedence(t *testing.T) {
	atts := map[string]*tgwAttachment{"x": {name: "x"}, "y": {name: "y"}, "z": {name: "z"}}
	rc := config.TGWRouteTable{Name: "rt", Routes: []config.TGWRoute{
		// Propagated first in the file: order does not matter, static wins.
		{Destination: p("10.2.0.0/16"), Attachment: "z", Propagated: true},
		{Destination: p("10.2.0.0/16"), Attachment: "x"},
		{Destination: p("10.3.0.0/16"), Attachment: "y", Propagated: true},
		{Destination: p("10.3.0.0/16"), Attachment: "z", Propagated: true}, // second propagation: ignored
		{Destination: p("10.3.5.0/24"), Blackhole: true},
		{Destination: p("10.4.0.0/16"), Attachment: "y", Propagated: true},
		{Destination: p("10.4.0.0/16"), Blackhole: true},
		{Destination: p("0.0.0.0/0"), Attachment: "z"},
	}}
	tbl, err := compileTGWTable(rc, atts)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		dst, want  string // want: attachment, or "blackhole"
		pfx        string
		propagated bool
	}{
		{"10.2.3.4", "x", "10.2.0.0/16", false},         // static beats propagated
		{"10.3.1.1", "y", "10.3.0.0/16", true},          // propagated, first kept
		{"10.3.5.9", "blackhole", "10.3.5.0/24", false}, // longest prefix: blackhole
		{"10.4.0.1", "blackhole", "10.4.0.0/16", false}, // static blackhole beats propagated
		{"192.0.2.1", "z", "0.0.0.0/0", false},
	}
	for _, c := range cases {
		r, pfx, ok := tbl.Lookup(a(c.dst))
		got := "blackhole"
		if r.att != nil {
			got = r.att.name
		}
		if !ok || got != c.want || pfx != p(c.pfx) || r.propagated != c.propagated {
			t.Errorf("%s: %v %s %s (propagated %v), want %s via %s (propagated %v)", c.dst, ok, got, pfx, r.propagated, c.want, c.pfx, c.propagated)
		}
	}
	if _, err := compileTGWTable(config.TGWRouteTable{Name: "rt", Routes: []config.TGWRoute{
		{Destination: p("10.0.0.0/8"), Attachment: "x"}, {Destination: p("10.0.0.0/8"), Blackhole: true},
	}}, atts); err == nil {
		t.Error("two static routes for one prefix were accepted")
	}
}

func TestTGWEgressAZ(t *testing.T) {
	att := &tgwAttachment{name: "x", enis: []tgwENI{{az: "az1"}, {az: "az2"}}}
	ip := packet.AppendTCP(nil, packet.IPHeader{Src: a("10.1.1.10"), Dst: a("10.2.2.10")}, packet.TCPHeader{SrcPort: 1000, DstPort: 80}, nil)
	if e, why := att.egress("az2", ip); e.az != "az2" || why != azSame {
		t.Errorf("az affinity: %s (%s), want az2", e.az, why)
	}
	if e, why := att.egress("az3", ip); e.az != "az1" || why != azFirst {
		t.Errorf("no subnet in the AZ: %s (%s), want the first AZ az1", e.az, why)
	}
	one := &tgwAttachment{name: "one", appliance: true, enis: []tgwENI{{az: "az2"}}}
	if e, _ := one.egress("az1", ip); e.az != "az2" {
		t.Errorf("appliance mode with one AZ: %s", e.az)
	}
}

func TestTGWFlowHash(t *testing.T) {
	att := &tgwAttachment{name: "x", appliance: true, enis: []tgwENI{{az: "az1"}, {az: "az2"}, {az: "az3"}}}
	seen := map[string]int{}
	for port := uint16(1000); port < 1300; port++ {
		fwd := packet.AppendTCP(nil, packet.IPHeader{Src: a("10.1.1.10"), Dst: a("10.2.2.10")}, packet.TCPHeader{SrcPort: port, DstPort: 443, Flags: packet.TCPFlagSYN}, nil)
		rev := packet.AppendTCP(nil, packet.IPHeader{Src: a("10.2.2.10"), Dst: a("10.1.1.10")}, packet.TCPHeader{SrcPort: 443, DstPort: port, Flags: packet.TCPFlagACK}, []byte("data"))
		e1, why := att.egress("az1", fwd)
		e2, _ := att.egress("az3", rev)
		e3, _ := att.egress("az2", fwd)
		if why != azFlowHash {
			t.Fatalf("appliance mode chose by %q", why)
		}
		if e1.az != e2.az || e1.az != e3.az {
			t.Fatalf("port %d: forward in %s, reply in %s, forward again in %s: want one AZ", port, e1.az, e2.az, e3.az)
		}
		seen[e1.az]++
	}
	// 300 flows over 3 AZs: each gets a fair share (expected 100).
	for _, az := range []string{"az1", "az2", "az3"} {
		if seen[az] < 60 {
			t.Errorf("flows per AZ %v: %s gets too few", seen, az)
		}
	}
	// Fragments of one datagram hash alike (no ports in later ones).
	first := packet.AppendUDP(nil, packet.IPHeader{Src: a("10.1.1.10"), Dst: a("10.2.2.10"), ID: 9}, 5000, 53, make([]byte, 64))
	packet.IPv4(first).SetFlags(1) // more fragments
	later := packet.AppendUDP(nil, packet.IPHeader{Src: a("10.1.1.10"), Dst: a("10.2.2.10"), ID: 9}, 5000, 53, make([]byte, 64))
	packet.IPv4(later).SetFragOffset(9)
	if packet.IPv4(first).Fragment() != packet.FirstFragment || packet.IPv4(later).Fragment() != packet.LaterFragment {
		t.Fatal("test fragments are not fragments")
	}
	if flowHash(fnvOffset, first) != flowHash(fnvOffset, later) {
		t.Error("first and later fragment of a datagram hash differently")
	}
}

// Two transit gateways share no flow state (spec §6.5, §6.6 #5): each
// picks a flow's AZ by a hash of its own, so for one flow they agree only
// by chance, while one gateway (or another lab's gateway of that name)
// always picks the same AZ for it.
func TestTGWFlowHashPerGateway(t *testing.T) {
	atts := map[string]*tgwAttachment{}
	for _, name := range []string{"tgw-1", "tgw-2", "tgw-1 again"} {
		gw := &tgw{name: name, seed: tgwSeed(strings.TrimSuffix(name, " again"))}
		atts[name] = &tgwAttachment{name: "insp", tgw: gw, appliance: true, enis: []tgwENI{{az: "az1"}, {az: "az2"}}}
	}
	differ := 0
	const flows = 400
	for port := uint16(20000); port < 20000+flows; port++ {
		fwd := packet.AppendTCP(nil, packet.IPHeader{Src: a("10.1.1.10"), Dst: a("10.2.2.10")}, packet.TCPHeader{SrcPort: port, DstPort: 80, Flags: packet.TCPFlagSYN}, nil)
		rev := packet.AppendTCP(nil, packet.IPHeader{Src: a("10.2.2.10"), Dst: a("10.1.1.10")}, packet.TCPHeader{SrcPort: 80, DstPort: port, Flags: packet.TCPFlagSYN | packet.TCPFlagACK}, nil)
		one, _ := atts["tgw-1"].egress("az1", fwd)
		oneRev, _ := atts["tgw-1"].egress("az2", rev)
		again, _ := atts["tgw-1 again"].egress("az1", fwd)
		two, _ := atts["tgw-2"].egress("az2", rev)
		if one.az != oneRev.az || one.az != again.az {
			t.Fatalf("port %d: tgw-1 chose %s forward, %s for the reply, %s in another lab: want one AZ", port, one.az, oneRev.az, again.az)
		}
		if one.az != two.az {
			differ++
		}
	}
	// Independent choices over two AZs differ for about half the flows.
	if differ < flows/4 || differ > flows*3/4 {
		t.Errorf("tgw-1 and tgw-2 chose different AZs for %d of %d flows, want about half", differ, flows)
	}
}

func TestTGWForwarding(t *testing.T) {
	// Appliance mode off: a cross-AZ flow is inspected by mb1 one way and
	// by mb2 the other (spec §6.6 row 4).
	h := newHarness(t, tgwLab(false))
	h.send("va1", tcpFrame(mac(0x11, 1), mac(0x11, 10), "10.1.1.10", "10.2.2.10", 40000, 80))
	checkIP(t, h.recv("mb1"), mac(0x39, 10), "10.1.1.10", "10.2.2.10")
	h.send("vb2", tcpFrame(mac(0x22, 1), mac(0x22, 10), "10.2.2.10", "10.1.1.10", 80, 40000))
	checkIP(t, h.recv("mb2"), mac(0x39, 11), "10.2.2.10", "10.1.1.10")
	// The middlebox sends it on: through the TGW's hub table into spoke b,
	// delivered by b's local route, unchanged (no TTL change).
	fr := tcpFrame(mac(0x39, 1), mac(0x39, 10), "10.1.1.10", "10.2.2.10", 40000, 80)
	ttl := packet.IPv4(fr[packet.EthernetLen:]).TTL()
	h.send("mb1", fr)
	ip := checkIP(t, h.recv("vb2"), mac(0x22, 10), "10.1.1.10", "10.2.2.10")
	if ip.TTL() != ttl {
		t.Errorf("TTL %d after the TGW, sent with %d", ip.TTL(), ttl)
	}

	// Drops.
	for _, c := range []struct {
		from    string
		srcMAC  config.MAC
		rtrMAC  config.MAC
		src     string
		dst     string
		reason  Reason
		comment string
	}{
		{"va1", mac(0x11, 10), mac(0x11, 1), "10.1.1.10", "10.2.9.10", DropTGWBlackhole, "blackhole in table spokes"},
		{"va3", mac(0x13, 10), mac(0x13, 1), "10.1.3.10", "10.2.1.10", DropTGWNoAttachmentAZ, "att-a has no subnet in az3"},
		{"mb1", mac(0x39, 10), mac(0x39, 1), "10.3.9.10", "192.0.2.1", DropTGWNoRoute, "table hub has no default route"},
	} {
		before := h.f.Drops(c.reason)
		h.send(c.from, tcpFrame(c.rtrMAC, c.srcMAC, c.src, c.dst, 1, 2))
		if got := h.f.Drops(c.reason); got != before+1 {
			t.Errorf("%s: %s %d, want %d; drops %v", c.comment, c.reason, got, before+1, nonZeroDrops(h.f))
		}
	}

	// Appliance mode on: both directions of every flow meet one
	// middlebox, and flows use both.
	h = newHarness(t, tgwLab(true))
	used := map[string]int{}
	for port := uint16(40000); port < 40040; port++ {
		h.send("va1", tcpFrame(mac(0x11, 1), mac(0x11, 10), "10.1.1.10", "10.2.2.10", port, 80))
		fwd := h.which("mb1", "mb2")
		h.send("vb2", tcpFrame(mac(0x22, 1), mac(0x22, 10), "10.2.2.10", "10.1.1.10", 80, port))
		if back := h.which("mb1", "mb2"); back != fwd {
			t.Fatalf("port %d: forward through %s, reply through %s", port, fwd, back)
		}
		used[fwd]++
	}
	if len(used) != 2 {
		t.Errorf("40 flows all through one middlebox: %v", used)
	}
}

// which returns the one of nodes the fabric delivered a frame to.
func (h *harness) which(nodes ...string) string {
	h.t.Helper()
	for _, n := range nodes {
		select {
		case <-h.ports[n].out:
			return n
		default:
		}
	}
	h.t.Fatalf("nothing delivered to any of %v; drops %v", nodes, nonZeroDrops(h.f))
	return ""
}

func TestTGWRouteEdit(t *testing.T) {
	h := newHarness(t, tgwLab(false))
	// The hub's az1 attachment subnet sends to the TGW instead of mb1: the
	// hub table has no route for the internet address.
	if _, err := h.f.EditRoute(RouteEdit{Op: RouteReplace, VPC: "hub", Table: "h1", Destination: p("0.0.0.0/0"), Target: "tgw"}); err != nil {
		t.Fatal(err)
	}
	h.send("va1", tcpFrame(mac(0x11, 1), mac(0x11, 10), "10.1.1.10", "192.0.2.1", 40000, 80))
	h.none("mb1")
	if got := h.f.Drops(DropTGWNoRoute); got != 1 {
		t.Errorf("tgw_no_route %d, want 1; drops %v", got, nonZeroDrops(h.f))
	}
	for _, e := range []RouteEdit{
		{Op: RouteAdd, VPC: "a", Table: "a", Destination: p("10.1.2.0/24"), Target: "tgw"},
		{Op: RouteReplace, VPC: "a", Table: "a", Destination: p("10.1.0.0/16"), Target: "tgw"},
		{Op: RouteAdd, VPC: "a", Table: "a", Destination: p("192.0.2.0/24"), Target: "tgw-9"},
	} {
		if _, err := h.f.EditRoute(e); err == nil {
			t.Errorf("%+v accepted", e)
		}
	}
}

func TestTGWCounters(t *testing.T) {
	s := tgwLab(false)
	// A static route of a propagated route's prefix: the propagated one is
	// listed inactive.
	hubTable := &s.TransitGateways[0].RouteTables[1]
	hubTable.Routes = append(hubTable.Routes, config.TGWRoute{Destination: p("10.1.0.0/16"), Attachment: "att-a"})
	h := newHarness(t, s)
	fr := tcpFrame(mac(0x11, 1), mac(0x11, 10), "10.1.1.10", "10.2.2.10", 40000, 80)
	h.send("va1", fr)
	h.recv("mb1")
	h.send("va1", tcpFrame(mac(0x11, 1), mac(0x11, 10), "10.1.1.10", "10.2.9.10", 1, 2)) // blackhole
	// A route edit recompiles the configuration: counters go on.
	if _, err := h.f.EditRoute(RouteEdit{Op: RouteAdd, VPC: "a", Table: "a", Destination: p("192.0.2.0/24"), Target: "blackhole"}); err != nil {
		t.Fatal(err)
	}
	h.send("va3", tcpFrame(mac(0x13, 1), mac(0x13, 10), "10.1.3.10", "10.2.1.10", 1, 2)) // no attachment in az3
	n := uint64(len(fr) - packet.EthernetLen)
	got := map[string]api.TGWAttachmentStatus{}
	tgws := h.f.TGWs()
	if len(tgws) != 1 {
		t.Fatalf("%d transit gateways", len(tgws))
	}
	for _, a := range tgws[0].Attachments {
		got[a.Name] = a
	}
	a, hub := got["att-a"], got["att-hub"]
	if a.InPackets != 2 || a.InBytes != 2*n || a.Drops["tgw_blackhole"] != 1 || a.Drops["tgw_no_attachment_in_az"] != 1 || a.OutPackets != 0 {
		t.Errorf("att-a: %+v", a)
	}
	if hub.OutPackets != 1 || hub.OutBytes != n || hub.InPackets != 0 {
		t.Errorf("att-hub: %+v", hub)
	}
	for _, rt := range tgws[0].RouteTables {
		if rt.Name == "spokes" && (len(rt.Associations) != 2 || len(rt.Routes) != 2 || !rt.Routes[0].Active) {
			t.Errorf("table spokes: %+v", rt)
		}
		if rt.Name == "hub" && (rt.Routes[0].Active || !rt.Routes[1].Active || !rt.Routes[2].Active) {
			t.Errorf("table hub: %+v", rt)
		}
	}
}

func TestTGWForwardingDoesNotAllocate(t *testing.T) {
	for _, appliance := range []bool{false, true} {
		// va1 to vb2 crosses the gateway into the hub (by flow hash with
		// appliance mode) to a middlebox.
		h := newHarness(t, tgwLab(appliance))
		frame := tcpFrame(mac(0x11, 1), mac(0x11, 10), "10.1.1.10", "10.2.2.10", 40000, 80)
		h.send("va1", frame)
		port := h.ports[h.which("mb1", "mb2")]
		buf := make([]byte, Headroom+len(frame)+64)
		allocs := testing.AllocsPerRun(200, func() {
			copy(buf[Headroom:], frame)
			h.w.receive("va1", buf, Headroom, len(frame))
			<-port.out
		})
		// The fake port copies each written frame (1 allocation); the
		// transit gateway hop adds nothing.
		if allocs > 1 {
			t.Fatalf("appliance mode %v: %v allocations per packet", appliance, allocs)
		}
	}
}

// tgwLab6 is tgwLab made dualstack: every VPC gets a /56 and every subnet
// a /64 (ENIs and the attachments' interfaces the subnet prefix plus their
// IPv4 host number), each 0.0.0.0/0 route a ::/0 twin, and the hub table
// the spokes' IPv6 blocks, propagated.
func tgwLab6(applianceMode bool) *config.Snapshot {
	s := tgwLab(applianceMode)
	v6 := map[string]netip.Prefix{}
	for i := range s.VPCs {
		v := &s.VPCs[i]
		v.CIDRs = append(v.CIDRs, p(fmt.Sprintf("2600:1f18:0:%d00::/56", i+1)))
		for j := range v.Subnets {
			sn := &v.Subnets[j]
			sn.IPv6CIDR = p(fmt.Sprintf("2600:1f18:0:%d%02x::/64", i+1, sn.CIDR.Addr().As4()[2]))
			sn.RouterV6 = six(sn.IPv6CIDR, 1)
			v6[sn.Name] = sn.IPv6CIDR
			for k := range sn.ENIs {
				sn.ENIs[k].IPv6 = six(sn.IPv6CIDR, sn.ENIs[k].IP.As4()[3])
			}
		}
		for j := range v.RouteTables {
			rt := &v.RouteTables[j]
			for _, r := range rt.Routes {
				if r.Destination == p("0.0.0.0/0") {
					r.Destination = p("::/0")
					rt.Routes = append(rt.Routes, r)
				}
			}
		}
	}
	t := &s.TransitGateways[0]
	for i := range t.Attachments {
		for j := range t.Attachments[i].ENIs {
			e := &t.Attachments[i].ENIs[j]
			e.IP6 = six(v6[e.Subnet], e.IP.As4()[3])
		}
	}
	t.RouteTables[0].Routes = append(t.RouteTables[0].Routes, config.TGWRoute{Destination: p("::/0"), Attachment: "att-hub"})
	t.RouteTables[1].Routes = append(t.RouteTables[1].Routes,
		config.TGWRoute{Destination: p("2600:1f18:0:100::/56"), Attachment: "att-a", Propagated: true},
		config.TGWRoute{Destination: p("2600:1f18:0:200::/56"), Attachment: "att-b", Propagated: true})
	return s
}

// IPv6 crosses the transit gateway as IPv4 does: by the attachment's AZ,
// the associated table's IPv6 routes (static and propagated), and with
// appliance mode one AZ per flow for both directions.
func TestTGWForwardingIPv6(t *testing.T) {
	if err := tgwLab6(false).Validate(); err != nil {
		t.Fatal(err)
	}
	const a1, b2 = "2600:1f18:0:101::a", "2600:1f18:0:202::a"
	h := newHarness(t, tgwLab6(false))
	h.send("va1", tcp6(mac(0x11, 1), mac(0x11, 10), a1, b2, 40000, 80, packet.TCPFlagSYN, 0))
	checkIP6(t, h.recv("mb1"), mac(0x39, 10), a1, b2)
	h.send("vb2", tcp6(mac(0x22, 1), mac(0x22, 10), b2, a1, 80, 40000, packet.TCPFlagSYN|packet.TCPFlagACK, 0))
	checkIP6(t, h.recv("mb2"), mac(0x39, 11), b2, a1)
	h.send("mb1", tcp6(mac(0x39, 1), mac(0x39, 10), a1, b2, 40000, 80, packet.TCPFlagSYN, 0))
	checkIP6(t, h.recv("vb2"), mac(0x22, 10), a1, b2)

	// The interfaces' IPv6 addresses are the gateway's, as their IPv4 ones.
	for _, v := range h.f.lab.Load().vpcs {
		if v.name != "a" {
			continue
		}
		for _, addr := range []string{"10.1.1.5", "2600:1f18:0:101::5", "2600:1f18:0:102::5"} {
			if o, ok := v.owners[a(addr)]; !ok || o.kind != ownerTGW {
				t.Errorf("%s: owner %+v (%v), want the transit gateway", addr, o, ok)
			}
		}
	}

	h = newHarness(t, tgwLab6(true))
	used := map[string]int{}
	for port := uint16(40000); port < 40040; port++ {
		h.send("va1", tcp6(mac(0x11, 1), mac(0x11, 10), a1, b2, port, 80, packet.TCPFlagSYN, 0))
		fwd := h.which("mb1", "mb2")
		h.send("vb2", tcp6(mac(0x22, 1), mac(0x22, 10), b2, a1, 80, port, packet.TCPFlagSYN|packet.TCPFlagACK, 0))
		if back := h.which("mb1", "mb2"); back != fwd {
			t.Fatalf("port %d: forward through %s, reply through %s", port, fwd, back)
		}
		used[fwd]++
	}
	if len(used) != 2 {
		t.Errorf("40 IPv6 flows all through one middlebox: %v", used)
	}
}
