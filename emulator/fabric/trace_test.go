package fabric

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
)

func nextTrace(t *testing.T, ch <-chan api.Trace) api.Trace {
	t.Helper()
	select {
	case tr := <-ch:
		return tr
	default:
		t.Fatal("no trace")
		return api.Trace{}
	}
}

func hasHop(tr api.Trace, want string) bool {
	for _, h := range tr.Hops {
		if strings.Contains(h, want) {
			return true
		}
	}
	return false
}

func TestTraceThroughTheGWLB(t *testing.T) {
	h := newHarness(t, gwlbLab(false, true))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	traces := h.f.Trace(ctx, []netip.Addr{a("198.51.100.10")}, 16)

	h.send("client", tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80, packet.TCPFlagSYN, 1460))
	in := nextTrace(t, traces)
	if in.From != "client" || !strings.HasPrefix(in.Packet, "tcp 198.51.100.10:40000 -> 203.0.113.10:80 [S]") || in.Result != "delivered to fw-1" {
		t.Fatalf("trace %+v", in)
	}
	for _, hop := range []string{
		"internet: 203.0.113.10 belongs to vpc consumer's internet gateway",
		"destination 203.0.113.10 -> 10.0.1.10",
		"edge route table edge: 10.0.1.0/24 -> gwlb endpoint gwlbe-1",
		"gwlb node gwlb-1-az1: new flow -> target fw-1",
		"route table main: 10.20.0.0/16 -> local",
	} {
		if !hasHop(in, hop) {
			t.Errorf("no hop %q in %q", hop, in.Hops)
		}
	}
	// The appliance's GENEVE does not match the host, its inner packet does.
	h.send("fw-1", reflect(t, h.recv("fw-1")))
	h.recv("web")
	back := nextTrace(t, traces)
	if back.From != "fw-1" || !strings.Contains(back.Packet, "returned in GENEVE to gwlb node gwlb-1-az1") || back.Result != "delivered to web" {
		t.Fatalf("return trace %+v", back)
	}
	// A drop says where and why.
	h.send("client", tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40001, 80, packet.TCPFlagACK, 0))
	drop := nextTrace(t, traces)
	if drop.Result != "dropped by gwlb node gwlb-1-az1: tcp_no_flow" {
		t.Fatalf("drop trace %+v", drop)
	}
	// Packets of other hosts are not traced, and nothing is once ctx ends.
	h.send("web", tcpFlags(macRouterApp, macWeb, "10.0.1.10", "10.0.1.99", 1, 2, packet.TCPFlagSYN, 0))
	cancel()
	for i := 0; h.f.tracers.load() != nil; i++ {
		if i > 1000 {
			t.Fatal("tracer still subscribed after its context ended")
		}
		time.Sleep(time.Millisecond)
	}
	h.send("client", tcpFlags(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40002, 80, packet.TCPFlagSYN, 0))
	select {
	case tr := <-traces:
		t.Fatalf("unexpected trace %+v", tr)
	default:
	}
}
