package echo

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestServerHTTPAndUDP(t *testing.T) {
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Server{Node: "web", HTTPAddr: addr, UDPAddr: addr}.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	// UDP first: it retries until the server is up.
	pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
	defer pcancel()
	got, err := ProbeUDP(pctx, addr, "hello", 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "node web\nproto udp\nremote 127.0.0.1:") || !strings.Contains(got, "data hello") {
		t.Fatalf("udp answer %q", got)
	}

	resp, err := http.Get("http://" + addr + "/?format=json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a Answer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	if a.Node != "web" || a.Proto != "http" || !strings.HasPrefix(a.Remote, "127.0.0.1:") || a.Local != addr {
		t.Fatalf("http answer %+v", a)
	}
	resp2, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if !strings.HasPrefix(string(b), "node web\nproto http\nremote 127.0.0.1:") {
		t.Fatalf("text answer %q", b)
	}
}

func TestProbeUDPTimesOut(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // bound, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := ProbeUDP(ctx, pc.LocalAddr().String(), "x", 50*time.Millisecond); err == nil {
		t.Fatal("want an error from a silent peer")
	}
}

func TestRunNeedsAnAddress(t *testing.T) {
	if err := (Server{}).Run(context.Background()); err == nil {
		t.Fatal("want an error")
	}
}
