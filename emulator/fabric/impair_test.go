package fabric

import (
	"context"
	"errors"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"math"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/clock"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

// newHarnessWith is newHarness with the fabric's options in the test's hands.
func newHarnessWith(t testing.TB, s *config.Snapshot, opts Options) *harness {
	t.Helper()
	h := &harness{t: t, ports: map[string]*fakePort{}}
	opts.Ports = map[string]Port{}
	for _, e := range s.AllENIs() {
		fp := newFakePort(e.Node)
		h.ports[e.Node] = fp
		opts.Ports[e.Node] = fp
	}
	f, err := New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	markHealthy(f)
	h.f, h.w = f, newWorker(f)
	return h
}

// delivered reports whether a frame reached node (and takes it).
func (h *harness) delivered(node string) bool {
	select {
	case <-h.ports[node].out:
		return true
	default:
		return false
	}
}

func TestLinkLossRateWithFixedSeed(t *testing.T) {
	const sent, loss = 4000, 25.0
	h := newHarnessWith(t, plainVPC(), Options{Clock: clock.NewManual(time.Unix(1e9, 0)), Seed: 42})
	if err := h.f.SetLink("web", LinkImpairment{LossPercent: loss}); err != nil {
		t.Fatal(err)
	}
	got := 0
	for i := range sent {
		h.send("client", tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", uint16(10000+i), 80))
		if h.delivered("web") {
			got++
		}
	}
	lost := sent - got
	rate := 100 * float64(lost) / sent
	// With p = 0.25 over 4000 frames one standard deviation is 0.68
	// points; 2.5 points is more than 3.5 of them.
	if math.Abs(rate-loss) > 2.5 {
		t.Fatalf("lost %.2f%% of %d frames, want %v%% ± 2.5", rate, sent, loss)
	}
	if d := h.f.Drops(DropLinkLoss); d != uint64(lost) {
		t.Fatalf("link_loss counts %d, %d frames were lost", d, lost)
	}
	st, err := h.f.Link("web")
	if err != nil || st.DroppedLoss != uint64(lost) || st.LossPercent != loss {
		t.Fatalf("link status %+v, %v", st, err)
	}
	// The frames from the impaired node are not lost: loss applies to
	// what the node receives.
	for i := range 100 {
		h.send("web", tcpFrame(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 80, uint16(10000+i)))
		if !h.delivered("client") {
			t.Fatalf("frame %d from web lost; drops %v", i, nonZeroDrops(h.f))
		}
	}
}

func TestLinkLossAllAndNone(t *testing.T) {
	h := newHarness(t, plainVPC())
	frame := tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80)
	for _, c := range []struct {
		loss float64
		want bool
	}{{100, false}, {0, true}} {
		if err := h.f.SetLink("web", LinkImpairment{LossPercent: c.loss}); err != nil {
			t.Fatal(err)
		}
		for range 50 {
			h.send("client", frame)
			if h.delivered("web") != c.want {
				t.Fatalf("loss %v%%: delivered is %v", c.loss, !c.want)
			}
		}
	}
	if h.f.port("web").imp.Load() != nil {
		t.Fatal("a zero impairment left the port impaired")
	}
}

func TestLinkDownDropsBothWays(t *testing.T) {
	h := newHarness(t, plainVPC())
	if err := h.f.SetLink("web", LinkImpairment{Down: true}); err != nil {
		t.Fatal(err)
	}
	h.send("client", tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80))
	h.none("web")
	// ARP answers are frames to the node too.
	h.send("web", packet.AppendARPRequest(nil, packet.MAC(macWeb), a("10.0.1.10"), a("10.0.1.1")))
	h.none("web")
	if d := h.f.Drops(DropLinkDown); d != 2 {
		t.Fatalf("link_down %d, want 2; drops %v", d, nonZeroDrops(h.f))
	}

	// From the node: its port's reader drops what it sends.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	h.ports["web"].in <- tcpFrame(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 80, 40000)
	deadline := time.Now().Add(10 * time.Second)
	for h.f.Drops(DropLinkDown) != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("frame from a node whose link is down not dropped: %v", nonZeroDrops(h.f))
		}
		time.Sleep(time.Millisecond)
	}
	h.none("client")
	if st, _ := h.f.Link("web"); st.DroppedDown != 3 {
		t.Fatalf("link status %+v", st)
	}
	// Up again: traffic flows.
	if err := h.f.SetLink("web", LinkImpairment{}); err != nil {
		t.Fatal(err)
	}
	h.ports["web"].in <- tcpFrame(macRouterApp, macWeb, "10.0.1.10", "198.51.100.10", 80, 40000)
	select {
	case <-h.ports["client"].out:
	case <-time.After(10 * time.Second):
		t.Fatalf("nothing delivered once the link is up: %v", nonZeroDrops(h.f))
	}
}

func TestLinkDelayOnTheFabricClock(t *testing.T) {
	// The lab clock runs 10 times faster than real time: 2 s of lab time
	// pass in 200 ms.
	c := clock.NewScaled(10)
	h := newHarnessWith(t, plainVPC(), Options{Clock: c, Seed: 7})
	const delay, jitter = 2 * time.Second, 500 * time.Millisecond
	if err := h.f.SetLink("web", LinkImpairment{Delay: delay, Jitter: jitter}); err != nil {
		t.Fatal(err)
	}
	const n = 12
	start := h.f.Now()
	for i := range n {
		h.send("client", tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", uint16(1000+i), 80))
	}
	h.none("web") // held, not written by the sender's goroutine
	for i := range n {
		select {
		case f := <-h.ports["web"].out:
			elapsed := h.f.Now().Sub(start)
			if elapsed < delay-jitter {
				t.Fatalf("frame %d after %s of lab time, want at least %s", i, elapsed, delay-jitter)
			}
			if elapsed > delay+jitter+10*time.Second { // a busy machine, not the delay
				t.Fatalf("frame %d after %s of lab time", i, elapsed)
			}
			ip := checkIP(t, f, macWeb, "198.51.100.10", "10.0.1.10")
			if sport := packet.TCP(ip.Payload()).SrcPort(); sport != uint16(1000+i) {
				t.Fatalf("frame %d is the one sent %d-th: jitter reordered frames", i, sport-1000)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("delayed frame %d never delivered; drops %v", i, nonZeroDrops(h.f))
		}
	}
	st, _ := h.f.Link("web")
	if st.Delayed != n || st.Queued != 0 {
		t.Fatalf("link status %+v", st)
	}
	var web api.PortCounters
	for _, pc := range h.f.Counters().Ports {
		if pc.Node == "web" {
			web = pc
		}
	}
	if web.TxPkts != n {
		t.Fatalf("web's port counts %d frames sent, want %d", web.TxPkts, n)
	}
}

func TestLinkDelayQueueIsBounded(t *testing.T) {
	h := newHarness(t, plainVPC())
	if err := h.f.SetLink("web", LinkImpairment{Delay: MaxLinkDelay}); err != nil {
		t.Fatal(err)
	}
	frame := tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80)
	for range DelayQueueLen + 10 {
		h.send("client", frame)
	}
	if d := h.f.Drops(DropLinkQueueFull); d != 10 {
		t.Fatalf("link_queue_full %d, want 10", d)
	}
	if st, _ := h.f.Link("web"); st.Queued != DelayQueueLen || st.DroppedQueueFull != 10 {
		t.Fatalf("link status %+v", st)
	}
}

func TestImpairedForwardingDoesNotAllocate(t *testing.T) {
	h := newHarness(t, plainVPC())
	if err := h.f.SetLink("web", LinkImpairment{LossPercent: 1}); err != nil {
		t.Fatal(err)
	}
	frame := tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80)
	buf := make([]byte, Headroom+len(frame)+64)
	allocs := testing.AllocsPerRun(200, func() {
		copy(buf[Headroom:], frame)
		h.w.receive("client", buf, Headroom, len(frame))
		h.delivered("web")
	})
	if allocs > 1 { // the fake port's copy
		t.Fatalf("%v allocations per forwarded packet", allocs)
	}
}

func TestSetLinkRefusesBadValues(t *testing.T) {
	h := newHarness(t, plainVPC())
	for _, l := range []LinkImpairment{
		{LossPercent: -1}, {LossPercent: 100.5}, {LossPercent: math.NaN()},
		{Delay: -time.Second}, {Delay: 2 * MaxLinkDelay}, {Jitter: time.Millisecond},
		{Delay: time.Millisecond, Jitter: 2 * time.Millisecond}, {Delay: time.Second, Jitter: -time.Millisecond},
	} {
		if err := h.f.SetLink("web", l); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", l, err)
		}
	}
	if err := h.f.SetLink("nobody", LinkImpairment{Down: true}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown node: %v", err)
	}
}

func TestCountersShowImpairedLinks(t *testing.T) {
	h := newHarness(t, plainVPC())
	if err := h.f.SetLink("web", LinkImpairment{LossPercent: 2.5, Delay: 30 * time.Millisecond, Jitter: time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	for _, pc := range h.f.Counters().Ports {
		switch {
		case pc.Node == "web" && (pc.Link == nil || *pc.Link != api.PortLink{LossPercent: 2.5, Delay: "30ms", Jitter: "1ms"}):
			t.Errorf("web's link %+v", pc.Link)
		case pc.Node != "web" && pc.Link != nil:
			t.Errorf("%s shows an impairment %+v", pc.Node, pc.Link)
		}
	}
}

// BenchmarkForwardImpairment is the cost of forwarding one TCP segment from
// the internet to an instance, with no impairment on the instance's link
// and with a loss setting (which draws a number per frame).
func BenchmarkForwardImpairment(b *testing.B) {
	for _, c := range []struct {
		name string
		imp  LinkImpairment
	}{{"none", LinkImpairment{}}, {"loss", LinkImpairment{LossPercent: 0.001}}} {
		b.Run(c.name, func(b *testing.B) {
			h := newHarness(b, plainVPC())
			if err := h.f.SetLink("web", c.imp); err != nil {
				b.Fatal(err)
			}
			frame := tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80)
			buf := make([]byte, Headroom+len(frame)+64)
			b.ReportAllocs()
			for b.Loop() {
				copy(buf[Headroom:], frame)
				h.w.receive("client", buf, Headroom, len(frame))
				h.delivered("web")
			}
		})
	}
}
