package appliance

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

func TestTunnelDeviceNames(t *testing.T) {
	cases := []struct {
		eni     uint64
		in, out string
	}{
		{0, "gwi-0", "gwo-0"},
		{59, "gwi-X", "gwo-X"},
		{60, "gwi-10", "gwo-10"},
		{0x1506c7254f8aedb0, "gwi-2ukB1G6rOe8", "gwo-2ukB1G6rOe8"},
		{^uint64(0), "gwi-uur953OEv0f", "gwo-uur953OEv0f"}, // the longest: 15 characters
	}
	for _, c := range cases {
		in, out := TunnelDevices(c.eni)
		if in != c.in || out != c.out || len(in) > 15 {
			t.Errorf("%#x: %s %s, want %s %s", c.eni, in, out, c.in, c.out)
		}
	}
	if got := HookArgs(HookCreate, 0x1506c7254f8aedb0); !slices.Equal(got, []string{"CREATE", "gwi-2ukB1G6rOe8", "gwo-2ukB1G6rOe8", "01506c7254f8aedb0"}) {
		t.Errorf("hook arguments %q", got)
	}
}

// fakeTUN is a TUN device in memory: what the appliance writes is kept,
// what the test puts in `kernel` is read.
type fakeTUN struct {
	mu      sync.Mutex
	written [][]byte
	kernel  chan []byte
	done    chan struct{}
	once    sync.Once
}

func newFakeTUN() *fakeTUN { return &fakeTUN{kernel: make(chan []byte, 8), done: make(chan struct{})} }

func (f *fakeTUN) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.written = append(f.written, append([]byte(nil), p...))
	return len(p), nil
}

func (f *fakeTUN) Read(p []byte) (int, error) {
	select {
	case b := <-f.kernel:
		return copy(p, b), nil
	case <-f.done:
		return 0, os.ErrClosed
	}
}

func (f *fakeTUN) Close() error {
	f.once.Do(func() { close(f.done) })
	return nil
}

func (f *fakeTUN) packets() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.written)
}

// tunnelAppliance is an appliance in tunnel mode whose devices, hook and
// raw socket are in memory; sent receives what it returns.
type tunnelAppliance struct {
	app   *Appliance
	devs  map[string]*fakeTUN
	hooks [][]string
	sent  chan sent
	mu    sync.Mutex
}

func newTunnelAppliance(t *testing.T) *tunnelAppliance {
	ta := &tunnelAppliance{devs: map[string]*fakeTUN{}, sent: make(chan sent, 16)}
	ta.app = New(Config{Tunnel: true, GWLBNodes: []netip.Addr{a("10.20.0.50")}})
	ta.app.sendTo = func(ip []byte, to netip.Addr) error {
		ta.sent <- sent{append([]byte(nil), ip...), to}
		return nil
	}
	ta.app.tun.open = func(name string) (io.ReadWriteCloser, error) {
		ta.mu.Lock()
		defer ta.mu.Unlock()
		d := newFakeTUN()
		ta.devs[name] = d
		return d, nil
	}
	ta.app.tun.runHook = func(_ context.Context, args []string) error {
		ta.mu.Lock()
		defer ta.mu.Unlock()
		ta.hooks = append(ta.hooks, args)
		return nil
	}
	t.Cleanup(ta.app.tun.close)
	return ta
}

func (ta *tunnelAppliance) dev(name string) *fakeTUN {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	return ta.devs[name]
}

// geneveTo is a datagram a GWLB node sends: endpoint eni, flow cookie
// cookie, inner UDP from 198.51.100.10:40000 to 10.0.1.10:53.
func geneveTo(t *testing.T, eni uint64, cookie uint32, inner []byte) []byte {
	t.Helper()
	buf := make([]byte, 128+len(inner))
	copy(buf[128:], inner)
	p := packet.EncapParams{Src: a("10.20.0.50"), Dst: a("10.20.1.11"), SrcPort: 60000,
		Options: packet.AWSOptions{EndpointID: eni, Cookie: cookie}}
	start, err := packet.Encap(buf, 128, len(inner), &p)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf[start+packet.EthernetLen+packet.IPv4Len+packet.UDPLen:]...)
}

func TestTunnelDeliversToTheInboundDevice(t *testing.T) {
	ta := newTunnelAppliance(t)
	const eni = 0x1506c7254f8aedb0
	gwlb := netip.MustParseAddrPort("10.20.0.50:60000")
	buf := make([]byte, 65535)
	var inners [][]byte
	for i := range 3 {
		inner := packet.AppendUDP(nil, packet.IPHeader{Src: a("198.51.100.10"), Dst: a("10.0.1.10")}, 40000, 53, []byte{byte(i)})
		inners = append(inners, inner)
		ta.app.handle(geneveTo(t, eni, 0xcafef00d, inner), buf, gwlb, a("10.20.1.11"))
	}
	gwi := ta.dev("gwi-2ukB1G6rOe8")
	if gwi == nil || ta.dev("gwo-2ukB1G6rOe8") == nil || len(ta.devs) != 2 {
		t.Fatalf("devices made: %v", ta.devs)
	}
	if got := gwi.packets(); len(got) != 3 || !bytes.Equal(got[0], inners[0]) || !bytes.Equal(got[2], inners[2]) {
		t.Fatalf("written to gwi: %x, want the inner packets %x", got, inners)
	}
	if len(ta.hooks) != 1 || !slices.Equal(ta.hooks[0], []string{"CREATE", "gwi-2ukB1G6rOe8", "gwo-2ukB1G6rOe8", "01506c7254f8aedb0"}) {
		t.Fatalf("hook runs %q, want one CREATE", ta.hooks)
	}
	if s := ta.app.Stats(); s.Received != 3 || s.Tunneled != 3 || s.Returned != 0 {
		t.Fatalf("stats %+v", s)
	}
	if len(ta.sent) != 0 {
		t.Fatal("tunnel mode returned a packet before the kernel sent it")
	}
	// Another endpoint gets devices of its own.
	ta.app.handle(geneveTo(t, 60, 1, inners[0]), buf, gwlb, a("10.20.1.11"))
	if ta.dev("gwi-10") == nil || len(ta.hooks) != 2 {
		t.Fatalf("second endpoint: devices %v, hooks %q", ta.devs, ta.hooks)
	}
	// GENEVE from a stranger makes nothing.
	ta.app.handle(geneveTo(t, 61, 1, inners[0]), buf, netip.MustParseAddrPort("10.20.1.12:6081"), a("10.20.1.11"))
	if ta.dev("gwi-11") != nil || ta.app.Stats().Foreign != 1 {
		t.Fatalf("a foreign sender made devices: %v", ta.devs)
	}
}

func TestTunnelReturnsWithTheFlowsHeader(t *testing.T) {
	ta := newTunnelAppliance(t)
	const eni = 0x1506c7254f8aedb0
	gwlb := netip.MustParseAddrPort("10.20.0.50:60000")
	buf := make([]byte, 65535)
	req := packet.AppendUDP(nil, packet.IPHeader{Src: a("198.51.100.10"), Dst: a("10.0.1.10")}, 40000, 53, []byte("q"))
	// The flow's first header, then a newer one (another cookie): returns
	// carry the newer.
	ta.app.handle(geneveTo(t, eni, 0x1111, req), buf, gwlb, a("10.20.1.11"))
	latest := geneveTo(t, eni, 0xcafef00d, req)
	ta.app.handle(latest, buf, netip.MustParseAddrPort("10.20.0.50:60001"), a("10.20.1.11"))
	wantHdr := latest[:packet.Geneve(latest).HeaderLen()]

	// The kernel routes the request on (gwo) and the answer comes back
	// the other way (gwi): both return with the flow's header.
	reply := packet.AppendUDP(nil, packet.IPHeader{Src: a("10.0.1.10"), Dst: a("198.51.100.10")}, 53, 40000, []byte("a"))
	ta.dev("gwo-2ukB1G6rOe8").kernel <- req
	ta.dev("gwi-2ukB1G6rOe8").kernel <- reply
	for range 2 {
		var s sent
		select {
		case s = <-ta.sent:
		case <-time.After(10 * time.Second):
			t.Fatal("nothing returned")
		}
		ip := packet.IPv4(s.ip)
		if err := ip.Validate(); err != nil {
			t.Fatal(err)
		}
		u := packet.UDP(ip.Payload())
		if s.to != a("10.20.0.50") || ip.Dst() != a("10.20.0.50") || ip.Src() != a("10.20.1.11") || u.SrcPort() != 60001 || u.DstPort() != packet.GenevePort {
			t.Fatalf("returned %s:%d -> %s:%d (to %s)", ip.Src(), u.SrcPort(), ip.Dst(), u.DstPort(), s.to)
		}
		g := packet.Geneve(u.Payload())
		if !bytes.Equal(g[:g.HeaderLen()], wantHdr) {
			t.Fatalf("header %x, want the latest received %x", g[:g.HeaderLen()], wantHdr)
		}
		if inner := g.Payload(); !bytes.Equal(inner, req) && !bytes.Equal(inner, reply) {
			t.Fatalf("inner %x is neither packet the kernel sent", inner)
		}
	}

	// A packet of a flow that never came from the GWLB is discarded.
	other := packet.AppendUDP(nil, packet.IPHeader{Src: a("10.20.1.11"), Dst: a("198.51.100.10")}, 5000, 53, nil)
	ta.dev("gwo-2ukB1G6rOe8").kernel <- other
	deadline := time.Now().Add(10 * time.Second)
	for ta.app.Stats().NoFlow != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v", ta.app.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	if s := ta.app.Stats(); s.Returned != 2 || len(ta.sent) != 0 {
		t.Fatalf("stats %+v, %d more sent", s, len(ta.sent))
	}
}

func TestTunnelDestroyHookOnClose(t *testing.T) {
	ta := newTunnelAppliance(t)
	inner := packet.AppendUDP(nil, packet.IPHeader{Src: a("198.51.100.10"), Dst: a("10.0.1.10")}, 40000, 53, nil)
	ta.app.handle(geneveTo(t, 60, 1, inner), make([]byte, 65535), netip.MustParseAddrPort("10.20.0.50:60000"), a("10.20.1.11"))
	ta.app.tun.close()
	if len(ta.hooks) != 2 || !slices.Equal(ta.hooks[1], []string{"DESTROY", "gwi-10", "gwo-10", "0000000000000003c"}) {
		t.Fatalf("hook runs %q", ta.hooks)
	}
	select {
	case <-ta.dev("gwi-10").done:
	default:
		t.Fatal("device left open")
	}
}
