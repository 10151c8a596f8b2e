package gwlb

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/health"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

const ep1 = 0x01506c7254f8aedb0 >> 0

var epoch = time.Unix(1_000_000, 0)

func a(s string) netip.Addr { return netip.MustParseAddr(s) }

func lbConfig(stickiness string, crossZone, reset bool) config.GWLB {
	return config.GWLB{
		Name: "gwlb-1", VPC: "security", CrossZone: crossZone, TCPIdleTimeout: 350, SendTCPReset: reset,
		Nodes: []config.GWLBNode{
			{Name: "gwlb-1-az1", AZ: "az1", IP: a("10.20.0.50")},
			{Name: "gwlb-1-az2", AZ: "az2", IP: a("10.20.10.50")},
		},
		TargetGroup: config.TargetGroup{Name: "tg", Stickiness: stickiness, Targets: []config.Target{
			{Name: "fw-1", IP: a("10.20.1.11"), AZ: "az1"},
			{Name: "fw-2", IP: a("10.20.1.12"), AZ: "az1"},
			{Name: "fw-3", IP: a("10.20.11.13"), AZ: "az2"},
		}},
	}
}

func newLB(t *testing.T, stickiness string, crossZone, reset bool) *LB {
	t.Helper()
	lb, err := newStarted(lbConfig(stickiness, crossZone, reset), map[string][]uint64{"az1": {ep1}, "az2": {ep1}}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	return lb
}

func tcp(src, dst string, sport, dport uint16, flags uint8) []byte {
	return packet.AppendTCP(nil, packet.IPHeader{Src: a(src), Dst: a(dst)}, packet.TCPHeader{SrcPort: sport, DstPort: dport, Flags: flags, Seq: 100, Ack: 200, Window: 1000}, []byte("data"))
}

func udp(src, dst string, sport, dport uint16) []byte {
	return packet.AppendUDP(nil, packet.IPHeader{Src: a(src), Dst: a(dst)}, sport, dport, []byte("x"))
}

func forward(t *testing.T, n *Node, inner []byte, now time.Time) Decision {
	t.Helper()
	d, ok := n.Forward(inner, ep1, now)
	if !ok {
		t.Fatalf("dropped: %v", n.Metrics(now).Drops)
	}
	return d
}

func TestForwardEncapsulatesAsAWSDoes(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	now := epoch.Add(time.Second)
	syn := forward(t, n, tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagSYN), now)
	p := syn.Params
	if p.Src != a("10.20.0.50") || p.Dst != syn.Target.IP || p.SrcPort < 49152 || p.TTL != OuterTTL || !p.DF || p.UDPChecksum {
		t.Fatalf("outer params %+v", p)
	}
	if p.Options.EndpointID != ep1 || p.Options.AttachmentID != 0 || p.Options.Cookie == 0 {
		t.Fatalf("options %+v", p.Options)
	}
	// Both directions of the flow: same target, cookie and outer port.
	synack := forward(t, n, tcp("10.0.1.10", "198.51.100.10", 80, 40000, packet.TCPFlagSYN|packet.TCPFlagACK), now)
	if synack.Target != syn.Target || synack.Params.Options != p.Options || synack.Params.SrcPort != p.SrcPort {
		t.Fatalf("reply decided differently: %+v vs %+v", synack.Params, p)
	}
	if m := n.Metrics(now); m.NewFlowCount != 1 || m.ActiveFlowCount != 1 {
		t.Fatalf("metrics %+v", m)
	}
}

func TestTCPFlowsStartOnlyWithSYN(t *testing.T) {
	for _, reset := range []bool{false, true} {
		n := newLB(t, "5-tuple", false, reset).Node("az1")
		d, ok := n.Forward(tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagACK), ep1, epoch)
		if ok || d.Reset != reset || n.Drops(DropTCPNoFlow) != 1 {
			t.Fatalf("reset=%v: ok=%v decision %+v drops %d", reset, ok, d, n.Drops(DropTCPNoFlow))
		}
	}
	// Any UDP packet starts a flow.
	n := newLB(t, "5-tuple", false, false).Node("az1")
	forward(t, n, udp("198.51.100.10", "10.0.1.10", 5000, 53), epoch)
}

func TestIdleTimeouts(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	t0 := epoch.Add(time.Second)
	first := forward(t, n, tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagSYN), t0)
	// Activity in either direction keeps the flow alive.
	forward(t, n, tcp("10.0.1.10", "198.51.100.10", 80, 40000, packet.TCPFlagACK), t0.Add(300*time.Second))
	forward(t, n, tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagACK), t0.Add(600*time.Second))
	// 351 s of silence ends it: data is dropped, a new SYN is a new flow.
	late := t0.Add(951 * time.Second)
	if _, ok := n.Forward(tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagACK), ep1, late); ok {
		t.Fatal("data of an expired flow was forwarded")
	}
	again := forward(t, n, tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagSYN), late)
	if again.Params.Options.Cookie == first.Params.Options.Cookie {
		t.Fatal("a new flow on a reused 5-tuple kept the old cookie")
	}
	if n.Metrics(late).NewFlowCount != 2 {
		t.Fatalf("new flows %d", n.Metrics(late).NewFlowCount)
	}
	// UDP idles out after 120 s.
	u := forward(t, n, udp("198.51.100.10", "10.0.1.10", 5000, 53), late)
	u2 := forward(t, n, udp("198.51.100.10", "10.0.1.10", 5000, 53), late.Add(121*time.Second))
	if u.Params.Options.Cookie == u2.Params.Options.Cookie {
		t.Fatal("UDP flow outlived 120 s")
	}
}

func TestSelectionSpreadsAndSticks(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	used := map[string]int{}
	for i := range 200 {
		sport := uint16(30000 + i)
		d := forward(t, n, tcp("198.51.100.10", "10.0.1.10", sport, 80, packet.TCPFlagSYN), epoch)
		used[d.Target.Name]++
		// Stable for the life of the flow.
		for range 3 {
			if again := forward(t, n, tcp("10.0.1.10", "198.51.100.10", 80, sport, packet.TCPFlagACK), epoch); again.Target != d.Target {
				t.Fatalf("flow %d moved from %s to %s", i, d.Target.Name, again.Target.Name)
			}
		}
	}
	// Zonal: only az1's two targets; both take a fair share.
	if len(used) != 2 || used["fw-1"] < 50 || used["fw-2"] < 50 {
		t.Fatalf("spread %v", used)
	}
}

func TestStickinessModes(t *testing.T) {
	for _, mode := range []string{"2-tuple", "3-tuple"} {
		n := newLB(t, mode, false, false).Node("az1")
		targets := map[string]bool{}
		for i := range 50 {
			targets[forward(t, n, tcp("198.51.100.10", "10.0.1.10", uint16(30000+i), uint16(80+i%3), packet.TCPFlagSYN), epoch).Target.Name] = true
		}
		if len(targets) != 1 {
			t.Errorf("%s: one client/server pair used %v", mode, targets)
		}
		u := forward(t, n, udp("198.51.100.10", "10.0.1.10", 1, 2), epoch)
		if mode == "2-tuple" && !targets[u.Target.Name] {
			t.Errorf("2-tuple: UDP of the pair went to %s", u.Target.Name)
		}
	}
}

func TestCrossZoneAndUnhealthyFallback(t *testing.T) {
	lb := newLB(t, "5-tuple", true, false)
	n := lb.Node("az1")
	used := map[string]bool{}
	for i := range 300 {
		used[forward(t, n, udp("198.51.100.10", "10.0.1.10", uint16(i), 53), epoch).Target.Name] = true
	}
	if !used["fw-3"] {
		t.Fatalf("cross-zone did not reach the other zone's target: %v", used)
	}
	// Unhealthy targets get no new flows (spec §4.3).
	lb2 := newLB(t, "5-tuple", false, false)
	n2 := lb2.Node("az1")
	n2.SetHealth(0, health.Status{State: health.Unhealthy})
	for i := range 50 {
		if d := forward(t, n2, udp("198.51.100.10", "10.0.1.10", uint16(i), 53), epoch); d.Target.Name != "fw-2" {
			t.Fatalf("new flow to unhealthy %s", d.Target.Name)
		}
	}
	// Health is per zone: az2's node does not know what az1's decided.
	if th := lb2.Node("az2").Targets(epoch); len(th) != 1 || th[0].State != "healthy" {
		t.Fatalf("az2 view %+v", th)
	}
	if m := n2.Metrics(epoch); m.HealthyHostCount != 1 || m.UnHealthyHostCount != 1 {
		t.Fatalf("host counts %+v", m)
	}
}

// returned builds the frame an appliance sends back for decision d carrying
// inner, then lets edit change it.
func returned(t *testing.T, d Decision, inner []byte, edit func(f []byte)) (packet.Decapped, error) {
	t.Helper()
	buf := make([]byte, 128+len(inner))
	copy(buf[128:], inner)
	p := d.Params
	p.Src, p.Dst = d.Params.Dst, d.Params.Src
	start, err := packet.Encap(buf, 128, len(inner), &p)
	if err != nil {
		t.Fatal(err)
	}
	f := buf[start:]
	if edit != nil {
		edit(f)
	}
	return packet.Decap(f)
}

func TestReturnValidation(t *testing.T) {
	const geneve = packet.EthernetLen + packet.IPv4Len + packet.UDPLen
	cases := []struct {
		name string
		edit func(f []byte)
		want Reason // numReasons: accepted
	}{
		{"echoed as received", nil, numReasons},
		{"other outer source port", func(f []byte) { binary.BigEndian.PutUint16(f[packet.EthernetLen+packet.IPv4Len:], 1234) }, numReasons},
		{"gwlbtun style: TTL 2, DF off, UDP checksum 0", func(f []byte) {
			ip := packet.IPv4(f[packet.EthernetLen:])
			ip.SetTTL(2)
			ip.SetFlags(0)
			ip.ComputeChecksum()
			packet.UDP(ip[packet.IPv4Len:]).SetChecksum(0)
		}, numReasons},
		{"hairpin style: TTL decremented, checksum recomputed", func(f []byte) {
			ip := packet.IPv4(f[packet.EthernetLen:])
			ip.SetTTL(63)
			ip.ComputeChecksum()
			packet.UDP(ip[packet.IPv4Len:ip.TotalLen()]).ComputeChecksum(ip.Src(), ip.Dst())
		}, numReasons},
		{"XDP style: TTL 64, DF, checksum computed", func(f []byte) {
			ip := packet.IPv4(f[packet.EthernetLen:])
			ip.SetFlags(packet.IPv4FlagDF)
			ip.ComputeChecksum()
			packet.UDP(ip[packet.IPv4Len:ip.TotalLen()]).ComputeChecksum(ip.Src(), ip.Dst())
		}, numReasons},
		{"altered cookie", func(f []byte) { f[geneve+0x24] ^= 0xff }, DropReturnCookieMismatch},
		{"non-zero VNI", func(f []byte) { f[geneve+6] = 7 }, DropReturnVNI},
		{"control (O) bit", func(f []byte) { packet.Geneve(f[geneve:]).SetOAM(true) }, DropReturnControl},
		{"wrong option class", func(f []byte) { f[geneve+0x15] = 0x09 }, DropReturnOptionMissing},
		{"unknown endpoint", func(f []byte) { f[geneve+0x13] ^= 0xff }, DropReturnUnknownEndpoint},
		{"critical unknown option", func(f []byte) { f[geneve+0x15] = 0x09; f[geneve+0x16] |= 0x80 }, DropReturnCriticalOption},
		{"attachment option too short", func(f []byte) { f[geneve+0x17] = 1 }, DropReturnOptionLength},
		{"from a non-target", func(f []byte) {
			ip := packet.IPv4(f[packet.EthernetLen:])
			ip.SetSrc(a("10.20.1.99"))
			ip.ComputeChecksum()
		}, DropReturnWrongTarget},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newLB(t, "5-tuple", false, false).Node("az1")
			inner := tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagSYN)
			d := forward(t, n, inner, epoch)
			dec, err := returned(t, d, inner, c.edit)
			gotEP, ok := n.Return(dec, err, epoch)
			if c.want == numReasons {
				if !ok || gotEP != ep1 {
					t.Fatalf("rejected: %v %v", err, n.Metrics(epoch).Drops)
				}
				return
			}
			if ok || n.Drops(c.want) != 1 {
				t.Fatalf("want a %s drop; ok=%v err=%v drops %v", c.want, ok, err, n.Metrics(epoch).Drops)
			}
		})
	}
}

func TestAppliancesCannotStartFlows(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	inner := tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagSYN)
	d := forward(t, n, inner, epoch)
	// The same header around another inner flow: no such flow.
	other := udp("10.20.1.11", "198.51.100.10", 53, 53)
	dec, err := returned(t, d, other, nil)
	if _, ok := n.Return(dec, err, epoch); ok || n.Drops(DropReturnUnknownFlow) != 1 {
		t.Fatalf("appliance-originated flow accepted: %v", n.Metrics(epoch).Drops)
	}
	// And a flow that expired is unknown too (a stale header, spec §6.6 #11).
	dec, err = returned(t, d, inner, nil)
	if _, ok := n.Return(dec, err, epoch.Add(400*time.Second)); ok {
		t.Fatal("return for an expired flow accepted")
	}
}

func TestForwardExistingFlowDoesNotAllocate(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	inner := tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagSYN)
	forward(t, n, inner, epoch)
	ack := tcp("198.51.100.10", "10.0.1.10", 40000, 80, packet.TCPFlagACK)
	if allocs := testing.AllocsPerRun(500, func() { n.Forward(ack, ep1, epoch) }); allocs != 0 {
		t.Fatalf("%v allocations per packet", allocs)
	}
}

// The VPC fabric carries IPv4 only so far; the GWLB part of IPv6 (inner
// 0x86DD in the same IPv4 outer, spec §2.5) is covered here.
func TestIPv6InnerRoundTrip(t *testing.T) {
	n := newLB(t, "5-tuple", false, false).Node("az1")
	inner := packet.AppendTCP(nil, packet.IPHeader{Src: a("2001:db8:1::10"), Dst: a("2001:db8:2::20")},
		packet.TCPHeader{SrcPort: 40000, DstPort: 443, Flags: packet.TCPFlagSYN, Window: 1000}, nil)
	d := forward(t, n, inner, epoch)
	if !d.Params.Src.Is4() || !d.Params.Dst.Is4() {
		t.Fatalf("outer must be IPv4: %+v", d.Params)
	}
	dec, err := returned(t, d, inner, nil)
	if err != nil {
		t.Fatal(err)
	}
	if dec.Geneve.Protocol() != packet.EtherTypeIPv6 {
		t.Fatalf("protocol type %#x, want 0x86dd", dec.Geneve.Protocol())
	}
	if ep, ok := n.Return(dec, nil, epoch); !ok || ep != ep1 {
		t.Fatalf("IPv6 return rejected: %v", n.Metrics(epoch).Drops)
	}
	reply := packet.AppendTCP(nil, packet.IPHeader{Src: a("2001:db8:2::20"), Dst: a("2001:db8:1::10")},
		packet.TCPHeader{SrcPort: 443, DstPort: 40000, Flags: packet.TCPFlagSYN | packet.TCPFlagACK, Window: 1000}, nil)
	if r := forward(t, n, reply, epoch); r.Target != d.Target || r.Params.SrcPort != d.Params.SrcPort {
		t.Fatal("IPv6 reply took another path")
	}
}

func TestPeakRates(t *testing.T) {
	var p peaks
	t0 := epoch
	// 1 s samples: 1000 B/s for 20 s, then a 5 s burst at 11000 B/s.
	var total uint64
	for i := 0; i <= 25; i++ {
		p.add(t0.Add(time.Duration(i)*time.Second), total, total/100)
		if i < 20 {
			total += 1000
		} else {
			total += 11000
		}
	}
	// The best 10 s window holds the 5 burst seconds and 5 quiet ones.
	b, pk := p.get()
	if b != 6000 || pk != 60 {
		t.Fatalf("peak %v B/s %v pkt/s, want 6000 and 60", b, pk)
	}
	// Samples further apart than the window use the last interval.
	var q peaks
	q.add(t0, 0, 0)
	q.add(t0.Add(100*time.Second), 100_000, 1000)
	if b, _ := q.get(); b != 1000 {
		t.Fatalf("sparse peak %v", b)
	}
}

// A target in an AZ the load balancer does not enable gets no flow even with
// cross-zone on, and is listed as unused (Target.NotInUse, spec §4.2).
func TestTargetInDisabledAZIsNotInUse(t *testing.T) {
	cfg := lbConfig("5-tuple", true, false)
	cfg.Nodes = cfg.Nodes[:1] // only az1 is enabled; fw-3 is in az2
	lb, err := newStarted(cfg, map[string][]uint64{"az1": {ep1}}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	n := lb.Node("az1")
	for i := range 300 {
		if d := forward(t, n, udp("198.51.100.10", "10.0.1.10", uint16(i), 53), epoch); d.Target.Name == "fw-3" {
			t.Fatalf("flow %d went to fw-3, a target in an AZ the GWLB does not enable", i)
		}
	}
	var fw3 *api.TargetHealth
	for _, th := range n.Targets(epoch) {
		if th.Target == "fw-3" {
			fw3 = &th
		}
	}
	if fw3 == nil || fw3.State != "unused" || fw3.Reason != "Target.NotInUse" {
		t.Fatalf("fw-3 as listed: %+v", fw3)
	}
	if m := n.Metrics(epoch); m.HealthyHostCount != 2 {
		t.Fatalf("healthy host count %d, want 2 (fw-3 is not counted)", m.HealthyHostCount)
	}
}

// newStarted is New with every target past its first health check, as a
// running lab's targets are once `up` returns (targets start initial).
func newStarted(cfg config.GWLB, endpoints map[string][]uint64, epoch time.Time) (*LB, error) {
	lb, err := New(cfg, endpoints, epoch)
	if err != nil {
		return nil, err
	}
	for _, n := range lb.Nodes() {
		for _, t := range lb.Targets() {
			n.SetHealth(t.Index(), health.Status{State: health.Healthy})
		}
	}
	return lb, nil
}

func TestTargetsOfAStartingLabAreInitial(t *testing.T) {
	lb, err := New(lbConfig("5-tuple", false, false), map[string][]uint64{"az1": {ep1}, "az2": {ep1}}, epoch)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range lb.Nodes() {
		for _, th := range n.Targets(epoch) {
			if th.State != "initial" || th.Reason != health.ReasonInitial {
				t.Fatalf("node %s target %s: %s (%s), want initial", n.Name, th.Target, th.State, th.Reason)
			}
		}
	}
}
