package fabric

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// brokenPort is an in-memory port that fails: every write returns
// writeErr, and a read returns the error sent on readErr (or ends quietly
// when the port is closed).
type brokenPort struct {
	*fakePort
	writeErr error
	readErr  chan error
}

func (p *brokenPort) Write([][]byte, int) (int, error) { return 0, p.writeErr }

func (p *brokenPort) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	select {
	case err := <-p.readErr:
		return 0, err
	case <-p.closed:
		return p.fakePort.Read(bufs, sizes, offset)
	}
}

// syncBuffer is a log destination safe for the fabric's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// brokenHarness is the plain-VPC lab with web's port broken.
func brokenHarness(t *testing.T) (*harness, *brokenPort, *syncBuffer) {
	t.Helper()
	s := plainVPC()
	h := &harness{t: t, ports: map[string]*fakePort{}}
	ports := map[string]Port{}
	var web *brokenPort
	for _, e := range s.AllENIs() {
		fp := newFakePort(e.Node)
		h.ports[e.Node] = fp
		ports[e.Node] = fp
		if e.Node == "web" {
			web = &brokenPort{fakePort: fp, writeErr: syscall.EIO, readErr: make(chan error, 1)}
			ports[e.Node] = web
		}
	}
	log := &syncBuffer{}
	f, err := New(s, Options{Ports: ports, Log: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	h.f = f
	h.w = newWorker(f)
	return h, web, log
}

func portCounters(t *testing.T, f *Fabric, node string) (pc struct {
	writes           uint64
	write, readError string
}) {
	t.Helper()
	c, ok := f.Counters().Port(node)
	if !ok {
		t.Fatalf("no counters for %s", node)
	}
	pc.writes, pc.write, pc.readError = c.WriteErrors, c.WriteError, c.ReadError
	return pc
}

func TestFailedWritesAreCountedAndLoggedOnce(t *testing.T) {
	h, _, log := brokenHarness(t)
	frame := tcpFrame(macRouterInet, macClient, "198.51.100.10", "203.0.113.10", 40000, 80)
	for range 3 {
		h.send("client", frame)
	}
	if got := h.f.Drops(DropPortWrite); got != 3 {
		t.Fatalf("port_write_failed = %d, want 3; drops %v", got, nonZeroDrops(h.f))
	}
	pc := portCounters(t, h.f, "web")
	if pc.writes != 3 || pc.write != syscall.EIO.Error() || pc.readError != "" {
		t.Fatalf("web's port counters: %+v", pc)
	}
	if other := portCounters(t, h.f, "client"); other.writes != 0 || other.write != "" {
		t.Fatalf("client's port counters show web's failures: %+v", other)
	}
	out := log.String()
	if n := strings.Count(out, "\n"); n != 1 || !strings.Contains(out, "node=web") || !strings.Contains(out, "input/output error") {
		t.Fatalf("want one log line about web's port, got:\n%s", out)
	}

	// Once logged, a failing port costs the forwarding path nothing.
	buf := make([]byte, Headroom+len(frame)+64)
	allocs := testing.AllocsPerRun(200, func() {
		copy(buf[Headroom:], frame)
		h.w.receive("client", buf, Headroom, len(frame))
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per packet sent to a failing port", allocs)
	}
	if pc := portCounters(t, h.f, "web"); pc.writes != 3+201 {
		t.Fatalf("web's write errors = %d after 204 failed writes", pc.writes)
	}
	if n := strings.Count(log.String(), "\n"); n != 1 {
		t.Fatalf("logged %d lines for one failing port:\n%s", n, log.String())
	}
}

func TestReadLoopErrorIsShownAndLogged(t *testing.T) {
	h, web, log := brokenHarness(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.f.Run(ctx) }()
	web.readErr <- syscall.EBADFD
	deadline := time.Now().Add(10 * time.Second)
	for portCounters(t, h.f, "web").readError == "" {
		if time.Now().After(deadline) {
			t.Fatal("the ended read loop never showed in web's counters")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pc := portCounters(t, h.f, "web"); pc.readError != syscall.EBADFD.Error() {
		t.Fatalf("web's read error = %q", pc.readError)
	}
	if out := log.String(); strings.Count(out, "\n") != 1 || !strings.Contains(out, "node=web") || !strings.Contains(out, "reading") {
		t.Fatalf("want one log line about reading web's port, got:\n%s", out)
	}
	// The other ports keep forwarding: db reaches the internet through
	// the NAT gateway.
	h.ports["db"].in <- udpFrame(macRouterPriv, macDB, "10.0.3.10", "198.51.100.10", 40000, 53)
	select {
	case <-h.ports["client"].out:
	case <-time.After(10 * time.Second):
		t.Fatalf("db's packet did not reach client after web's port failed; drops %v", nonZeroDrops(h.f))
	}
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), `port "web"`) {
			t.Fatalf("Run returned %v, want the web port's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
