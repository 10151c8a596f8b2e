package fabric

import (
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/clock"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/health"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// fakePort is an in-memory port: the test pushes frames the node "sends" into
// in and finds what the fabric wrote to the node in out.
type fakePort struct {
	name   string
	in     chan []byte
	out    chan []byte
	closed chan struct{}
	once   sync.Once
}

func newFakePort(name string) *fakePort {
	return &fakePort{name: name, in: make(chan []byte, 16), out: make(chan []byte, 16), closed: make(chan struct{})}
}

func (p *fakePort) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case f := <-p.in:
		sizes[0] = copy(bufs[0][offset:], f)
		return 1, nil
	case <-p.closed:
		return 0, os.ErrClosed
	}
}

func (p *fakePort) Write(bufs [][]byte, offset int) (int, error) {
	for _, b := range bufs {
		select {
		case p.out <- append([]byte(nil), b[offset:]...):
		default:
			return 0, os.ErrDeadlineExceeded // the test did not drain
		}
	}
	return len(bufs), nil
}

func (p *fakePort) BatchSize() int { return 1 }
func (p *fakePort) MTU() int       { return 9001 }
func (p *fakePort) Name() string   { return p.name }
func (p *fakePort) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

var (
	macRouterApp  = config.MAC{0x02, 0, 0, 0, 1, 1}
	macRouterPriv = config.MAC{0x02, 0, 0, 0, 3, 1}
	macRouterPub  = config.MAC{0x02, 0, 0, 0, 0, 1}
	macRouterMbox = config.MAC{0x02, 0, 0, 0, 4, 1}
	macRouterInet = config.MAC{0x02, 0, 0, 0, 9, 1}
	macWeb        = config.MAC{0x02, 0, 0, 1, 0, 10}
	macWeb2       = config.MAC{0x02, 0, 0, 1, 0, 11}
	macDB         = config.MAC{0x02, 0, 0, 3, 0, 10}
	macMB         = config.MAC{0x02, 0, 0, 4, 0, 10}
	macClient     = config.MAC{0x02, 0, 0, 9, 0, 10}
)

func a(s string) netip.Addr   { return netip.MustParseAddr(s) }
func p(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func eniCfg(node string, mac config.MAC, ip, public string, sdc bool) config.ENI {
	e := config.ENI{Node: node, NetNS: "/run/netns/t-" + node, Interface: "eth0", MAC: mac, MTU: 9001, IP: a(ip), SourceDestCheck: sdc}
	if public != "" {
		e.PublicIP = a(public)
	}
	return e
}

// plainVPC is the plain-VPC lab: web (public) and web2 in app, db behind a
// NAT gateway in private, a middlebox mb, and an internet client.
func plainVPC() *config.Snapshot {
	return &config.Snapshot{
		Version: config.Version, Lab: "t", TimeScale: 1,
		VPCs: []config.VPC{{
			Name: "consumer", CIDRs: []netip.Prefix{p("10.0.0.0/16")}, InternetGateway: "igw",
			Subnets: []config.Subnet{
				{Name: "public", AZ: "az1", CIDR: p("10.0.0.0/24"), RouteTable: "public", Router: a("10.0.0.1"), RouterMAC: macRouterPub},
				{Name: "app", AZ: "az1", CIDR: p("10.0.1.0/24"), RouteTable: "app", Router: a("10.0.1.1"), RouterMAC: macRouterApp,
					ENIs: []config.ENI{eniCfg("web", macWeb, "10.0.1.10", "203.0.113.10", true), eniCfg("web2", macWeb2, "10.0.1.11", "", true)}},
				{Name: "private", AZ: "az1", CIDR: p("10.0.3.0/24"), RouteTable: "private", Router: a("10.0.3.1"), RouterMAC: macRouterPriv,
					ENIs: []config.ENI{eniCfg("db", macDB, "10.0.3.10", "", true)}},
				{Name: "mbox", AZ: "az1", CIDR: p("10.0.4.0/24"), RouteTable: "mbox", Router: a("10.0.4.1"), RouterMAC: macRouterMbox,
					ENIs: []config.ENI{eniCfg("mb", macMB, "10.0.4.10", "", false)}},
			},
			RouteTables: []config.RouteTable{
				{Name: "public", Routes: []config.Route{{Destination: p("0.0.0.0/0"), Kind: config.TargetIGW, Target: "igw"}}},
				{Name: "app", Routes: []config.Route{
					{Destination: p("0.0.0.0/0"), Kind: config.TargetIGW, Target: "igw"},
					{Destination: p("192.0.2.0/24"), Kind: config.TargetBlackhole},
				}},
				{Name: "private", Routes: []config.Route{
					{Destination: p("0.0.0.0/0"), Kind: config.TargetNAT, Target: "nat-1"},
					{Destination: p("10.0.1.0/24"), Kind: config.TargetInstance, Target: "mb"},
				}},
				{Name: "mbox", Routes: nil},
			},
			NATGateways: []config.NATGateway{{Name: "nat-1", Subnet: "public", IP: a("10.0.0.5"), PublicIP: a("203.0.113.20")}},
		}},
		Internet: &config.Internet{Segments: []config.Segment{{
			CIDR: p("198.51.100.0/24"), Router: a("198.51.100.1"), RouterMAC: macRouterInet,
			Hosts: []config.ENI{eniCfg("client", macClient, "198.51.100.10", "", true)},
		}}},
	}
}

type harness struct {
	t     testing.TB
	f     *Fabric
	ports map[string]*fakePort
	w     *worker
	clock *clock.Manual
}

func newHarness(t testing.TB, s *config.Snapshot) *harness {
	t.Helper()
	h := &harness{t: t, ports: map[string]*fakePort{}, clock: clock.NewManual(time.Unix(1e9, 0))}
	ports := map[string]Port{}
	for _, e := range s.AllENIs() {
		fp := newFakePort(e.Node)
		h.ports[e.Node] = fp
		ports[e.Node] = fp
	}
	f, err := New(s, Options{Clock: h.clock, Ports: ports})
	if err != nil {
		t.Fatal(err)
	}
	markHealthy(f)
	h.f = f
	h.w = newWorker(f)
	return h
}

// send hands a frame from node to the fabric, as the node's port would.
func (h *harness) send(node string, frame []byte) {
	buf := make([]byte, Headroom+len(frame)+64)
	copy(buf[Headroom:], frame)
	h.w.receive(node, buf, Headroom, len(frame))
}

// recv returns the frame the fabric wrote to node, failing if there is none.
func (h *harness) recv(node string) packet.Ethernet {
	h.t.Helper()
	select {
	case f := <-h.ports[node].out:
		return packet.Ethernet(f)
	default:
		h.t.Fatalf("nothing was delivered to %s; drops: %v", node, nonZeroDrops(h.f))
		return nil
	}
}

func (h *harness) none(node string) {
	h.t.Helper()
	select {
	case f := <-h.ports[node].out:
		h.t.Fatalf("unexpected frame delivered to %s: % x", node, []byte(f))
	default:
	}
}

func nonZeroDrops(f *Fabric) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range f.Counters().Drops {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func tcpFrame(dstMAC, srcMAC config.MAC, src, dst string, sport, dport uint16) []byte {
	ip := packet.AppendTCP(nil, packet.IPHeader{Src: a(src), Dst: a(dst)}, packet.TCPHeader{SrcPort: sport, DstPort: dport, Seq: 7, Flags: packet.TCPFlagSYN, Window: 1000}, []byte("hello"))
	return packet.AppendFrame(nil, packet.MAC(dstMAC), packet.MAC(srcMAC), ip)
}

func udpFrame(dstMAC, srcMAC config.MAC, src, dst string, sport, dport uint16) []byte {
	ip := packet.AppendUDP(nil, packet.IPHeader{Src: a(src), Dst: a(dst)}, sport, dport, []byte("ping"))
	return packet.AppendFrame(nil, packet.MAC(dstMAC), packet.MAC(srcMAC), ip)
}

func echoFrame(dstMAC, srcMAC config.MAC, src, dst string, reply bool, id uint16) []byte {
	ip := packet.AppendICMPEcho(nil, packet.IPHeader{Src: a(src), Dst: a(dst)}, reply, id, 1, []byte("x"))
	return packet.AppendFrame(nil, packet.MAC(dstMAC), packet.MAC(srcMAC), ip)
}

// checkIP asserts the addresses of a delivered frame and that every checksum
// in it is still right after the fabric's rewrites.
func checkIP(t *testing.T, eth packet.Ethernet, dstMAC config.MAC, src, dst string) packet.IPv4 {
	t.Helper()
	if eth.Dst() != packet.MAC(dstMAC) {
		t.Fatalf("frame to %s, want %s", eth.Dst(), packet.MAC(dstMAC))
	}
	ip := packet.IPv4(eth[packet.EthernetLen:])
	if ip.Src() != a(src) || ip.Dst() != a(dst) {
		t.Fatalf("packet %s -> %s, want %s -> %s", ip.Src(), ip.Dst(), src, dst)
	}
	if !ip.ChecksumValid() {
		t.Fatal("IPv4 header checksum is wrong after rewrite")
	}
	l4 := ip.Payload()
	switch ip.Protocol() {
	case packet.ProtoTCP:
		if packet.TransportChecksum(packet.ProtoTCP, ip.Src(), ip.Dst(), l4) != 0 {
			t.Fatal("TCP checksum is wrong after rewrite")
		}
	case packet.ProtoUDP:
		if !packet.UDP(l4).ChecksumValid(ip.Src(), ip.Dst()) {
			t.Fatal("UDP checksum is wrong after rewrite")
		}
	case packet.ProtoICMP:
		if !packet.ICMPv4(l4).ChecksumValid() {
			t.Fatal("ICMP checksum is wrong after rewrite")
		}
	}
	return ip
}

// markHealthy puts every target past its first health check, as a running
// lab's targets are once `up` returns (a starting lab's are initial).
func markHealthy(f *Fabric) {
	for _, lb := range f.LBs() {
		for _, n := range lb.Nodes() {
			for _, t := range lb.Targets() {
				n.SetHealth(t.Index(), health.Status{State: health.Healthy})
			}
		}
	}
}
