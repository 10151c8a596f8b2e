package fabric

import (
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/clock"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// loopLab is gwlbLab with a second endpoint whose subnet routes everything
// into the first, while the first's routes everything into the second: the
// two-zone mistake that sends a packet round the appliances for ever.
func loopLab() *config.Snapshot {
	s := gwlbLab(false, true)
	c := &s.VPCs[0]
	c.Subnets = append(c.Subnets, config.Subnet{Name: "endpoint-2", AZ: "az1", CIDR: p("10.0.12.0/28"), RouteTable: "endpoint-2",
		Router: a("10.0.12.1"), RouterMAC: config.MAC{0x02, 0, 0, 12, 0, 1}})
	for i := range c.RouteTables {
		if c.RouteTables[i].Name == "endpoint" {
			c.RouteTables[i].Routes = []config.Route{{Destination: p("0.0.0.0/0"), Kind: config.TargetEndpoint, Target: "gwlbe-2"}}
		}
	}
	c.RouteTables = append(c.RouteTables, config.RouteTable{Name: "endpoint-2",
		Routes: []config.Route{{Destination: p("0.0.0.0/0"), Kind: config.TargetEndpoint, Target: "gwlbe-1"}}})
	c.Endpoints = append(c.Endpoints, config.Endpoint{Name: "gwlbe-2", ID: "vpce-02222222222222222", Subnet: "endpoint-2", AZ: "az1",
		IP: a("10.0.12.4"), Service: "inspection", GWLB: "gwlb-1", GWLBNode: "gwlb-1-az1", Accepted: true})
	return s
}

// circle plays the appliance for as long as the fabric keeps sending it
// GENEVE, and returns how many rounds it saw.
func circle(t *testing.T, h *harness) int {
	t.Helper()
	rounds := 0
	for ; rounds < 10*loopBound; rounds++ {
		select {
		case f := <-h.ports["fw-1"].out:
			h.send("fw-1", reflect(t, packet.Ethernet(f)))
		default:
			return rounds
		}
	}
	t.Fatalf("the packet still circles after %d rounds; drops %v", rounds, nonZeroDrops(h.f))
	return rounds
}

func TestEndpointRouteLoopEnds(t *testing.T) {
	h := newHarness(t, loopLab())
	// An outbound SYN from web enters gwlbe-1, comes back from fw-1, is
	// routed into gwlbe-2, back from fw-1 into gwlbe-1, and so on.
	syn := tcpFlags(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 40000, 80, packet.TCPFlagSYN, 1460)
	h.send("web", syn)
	if got := circle(t, h); got != loopBound {
		t.Fatalf("the packet made %d rounds through the appliance, want %d", got, loopBound)
	}
	if h.f.Drops(DropEndpointLoop) != 1 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
	h.none("client")

	// The host retransmits the same SYN a second later: it is a new
	// chance, and the loop is caught again after as many rounds.
	h.clock.Advance(time.Second)
	h.send("web", syn)
	if got := circle(t, h); got != loopBound {
		t.Fatalf("the retransmission made %d rounds, want %d", got, loopBound)
	}
	if h.f.Drops(DropEndpointLoop) != 2 {
		t.Fatalf("drops %v", nonZeroDrops(h.f))
	}
}

// Retransmissions through a working lab never reach the bound: TCP's
// quickest (200 ms apart) and its SYN retries, each crossing one endpoint
// each way.
func TestRetransmissionsAreNotALoop(t *testing.T) {
	h := newHarness(t, gwlbLab(false, true))
	syn := tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagSYN, 1460)
	for i := range 3 * loopBound {
		h.send("client", syn)
		h.send("fw-1", reflect(t, h.recv("fw-1")))
		h.recv("web")
		h.clock.Advance(200 * time.Millisecond)
		if d := nonZeroDrops(h.f); len(d) != 0 {
			t.Fatalf("copy %d: drops %v", i+1, d)
		}
	}
}

func TestLoopGuard(t *testing.T) {
	c := clock.NewManual(time.Unix(1e9, 0))
	g := newLoopGuard(c)
	const fp, other = 0x1234_5678_0000_0042, 0x9999_0000_0000_0042 // same slot
	for i := range loopBound {
		if !g.enter(fp, c.Now()) {
			t.Fatalf("entry %d refused", i+1)
		}
	}
	if g.enter(fp, c.Now()) || g.enter(fp, c.Now()) {
		t.Fatal("entries over the bound accepted")
	}
	// The slot belongs to a looping packet for the rest of its window:
	// another packet is let through untracked.
	for range 2 * loopBound {
		if !g.enter(other, c.Now()) {
			t.Fatal("another packet refused")
		}
	}
	c.Advance(loopWindow)
	if !g.enter(fp, c.Now()) {
		t.Fatal("the packet is refused after its window")
	}
	// A packet seen once or twice gives its slot up to another.
	if !g.enter(other, c.Now()) {
		t.Fatal("another packet refused")
	}
	for i := 1; i < loopBound; i++ {
		g.enter(other, c.Now())
	}
	if g.enter(other, c.Now()) {
		t.Fatal("the other packet was not tracked in the freed slot")
	}
}

// The window is wall time: at time_scale 100 it is 100 s of lab time.
func TestLoopGuardWindowFollowsTimeScale(t *testing.T) {
	g := newLoopGuard(clock.NewScaled(100))
	if got := g.tick * loopTicks; got != 100*loopWindow {
		t.Fatalf("window of %v lab time, want %v", got, 100*loopWindow)
	}
}

func TestFingerprintIgnoresWhatHopsChange(t *testing.T) {
	h := newHarness(t, gwlbLab(false, true))
	fpOf := func(frame []byte) uint64 {
		ip := frame[packet.EthernetLen:]
		k, info, err := packet.ParseFlow(ip)
		if err != nil {
			t.Fatal(err)
		}
		return h.w.fingerprint(ip, k.Proto, info)
	}
	syn := tcpFlags(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 40000, 80, packet.TCPFlagSYN, 1460)
	base := fpOf(syn)
	// TTL and checksums: the same packet.
	same := append([]byte(nil), syn...)
	ip := packet.IPv4(same[packet.EthernetLen:])
	ip.SetTTL(3)
	ip.ComputeChecksum()
	packet.TCP(ip.Payload()).SetChecksum(0xbeef)
	if fpOf(same) != base {
		t.Fatal("a TTL or checksum change made another packet")
	}
	// Sequence number, IP ID or payload: another packet.
	for name, change := range map[string]func(packet.IPv4){
		"seq":     func(ip packet.IPv4) { ip.Payload()[4] ^= 1 },
		"ip id":   func(ip packet.IPv4) { ip.SetID(ip.ID() + 1) },
		"options": func(ip packet.IPv4) { ip.Payload()[packet.TCPLen+2] ^= 1 },
	} {
		f := append([]byte(nil), syn...)
		change(packet.IPv4(f[packet.EthernetLen:]))
		if fpOf(f) == base {
			t.Errorf("%s: same fingerprint", name)
		}
	}
}

func TestFingerprintIPv6(t *testing.T) {
	h := newHarness(t, gwlbLab(false, true))
	fpOf := func(ip []byte) uint64 {
		k, info, err := packet.ParseFlow(ip)
		if err != nil {
			t.Fatal(err)
		}
		return h.w.fingerprint(ip, k.Proto, info)
	}
	syn := tcp6(macRouterInet, macClient, client6, web6, 40000, 80, packet.TCPFlagSYN, 1440)[packet.EthernetLen:]
	base := fpOf(syn)
	same := append([]byte(nil), syn...)
	same[7] = 3 // hop limit
	if fpOf(same) != base {
		t.Fatal("a hop limit change made another packet")
	}
	other := append([]byte(nil), syn...)
	packet.TCP(other[packet.IPv6Len:]).SetSeq(99)
	if fpOf(other) == base {
		t.Fatal("another sequence number, same fingerprint")
	}
}

func TestLoopGuardDoesNotAllocate(t *testing.T) {
	h := newHarness(t, loopLab())
	syn := tcpFlags(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 40000, 80, packet.TCPFlagSYN, 1460)
	ip := syn[packet.EthernetLen:]
	k, info, _ := packet.ParseFlow(ip)
	if n := testing.AllocsPerRun(200, func() {
		h.f.loops.enter(h.w.fingerprint(ip, k.Proto, info), h.clock.Now())
	}); n != 0 {
		t.Fatalf("%v allocations per packet", n)
	}
}

func BenchmarkLoopGuard(b *testing.B) {
	f := &Fabric{loops: newLoopGuard(clock.NewScaled(1))}
	w := newWorker(f)
	ip := packet.AppendTCP(nil, packet.IPHeader{Src: a("10.0.1.10"), Dst: a("198.51.100.10")},
		packet.TCPHeader{SrcPort: 40000, DstPort: 80, Seq: 1, Ack: 1, Flags: packet.TCPFlagACK, Window: 1000}, make([]byte, 1400))
	k, info, _ := packet.ParseFlow(ip)
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		packet.TCP(ip[info.L4Offset:]).SetSeq(uint32(i)) // a new packet each time, as in real traffic
		f.loops.enter(w.fingerprint(ip, k.Proto, info), now)
	}
}
