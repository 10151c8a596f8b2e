package echo

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// startServer runs the echo server on a loopback port (TCP and UDP) until
// the test ends, and returns the port once HTTP answers.
func startServer(t *testing.T) int {
	t.Helper()
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Server{Node: "web", HTTPAddr: addr, UDPAddr: addr}.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the echo server does not listen: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return int(netip.MustParseAddrPort(addr).Port())
}

func runFlows(t *testing.T, s FlowSpec) []FlowResult {
	t.Helper()
	var out []FlowResult
	if err := RunFlows(context.Background(), s, func(r FlowResult) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFlowsAnswered(t *testing.T) {
	port := startServer(t)
	lo := netip.MustParseAddr("127.0.0.1")
	for _, s := range []FlowSpec{
		{Protocol: "http", Flows: 3},
		{Protocol: "tcp", Flows: 2},
		{Protocol: "tcp", Size: 100000},
		{Protocol: "http", Duration: 100 * time.Millisecond, Interval: 40 * time.Millisecond},
		{Protocol: "udp", Flows: 2, Size: 500},
	} {
		s.Dest, s.Port, s.Timeout = lo, port, 2*time.Second
		rs := runFlows(t, s)
		want := max(s.Flows, 1)
		if len(rs) != want {
			t.Fatalf("%+v: %d results, want %d", s, len(rs), want)
		}
		locals := map[string]bool{}
		for i, r := range rs {
			if !r.OK || r.Flow != i || r.Protocol != s.Protocol || r.Error != "" {
				t.Errorf("%+v: flow %d: %+v", s, i, r)
			}
			if !strings.HasPrefix(r.Local, "127.0.0.1:") || locals[r.Local] {
				t.Errorf("%+v: local %q is not a new loopback port", s, r.Local)
			}
			locals[r.Local] = true
			if r.Answered != r.Exchanges {
				t.Errorf("%+v: %d of %d exchanges answered", s, r.Answered, r.Exchanges)
			}
		}
		if s.Duration > 0 && rs[0].Exchanges < 3 {
			t.Errorf("%+v: %d exchanges, want 3 (one every interval for the duration)", s, rs[0].Exchanges)
		}
		if s.Size > 0 && rs[0].BytesSent < int64(s.Size) {
			t.Errorf("%+v: sent %d bytes, want at least %d", s, rs[0].BytesSent, s.Size)
		}
	}
}

func TestFlowRefusedNamesItsPort(t *testing.T) {
	port := netip.MustParseAddrPort(freePort(t)).Port() // nothing listens now
	rs := runFlows(t, FlowSpec{Dest: netip.MustParseAddr("127.0.0.1"), Protocol: "http", Port: int(port), Timeout: time.Second})
	r := rs[0]
	if r.OK || r.Error != "refused" {
		t.Fatalf("%+v, want refused", r)
	}
	ap, err := netip.ParseAddrPort(r.Local)
	if err != nil || ap.Port() == 0 {
		t.Errorf("a failed connection's local %q does not name its port", r.Local)
	}
}

func TestUDPTimeout(t *testing.T) {
	// A UDP socket that never answers.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ap := netip.MustParseAddrPort(pc.LocalAddr().String())
	rs := runFlows(t, FlowSpec{Dest: ap.Addr(), Protocol: "udp", Port: int(ap.Port()), Timeout: 100 * time.Millisecond})
	if rs[0].OK || rs[0].Error != "timeout" || rs[0].Answered != 0 {
		t.Fatalf("%+v, want a timeout", rs[0])
	}
}
