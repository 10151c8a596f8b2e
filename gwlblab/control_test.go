package gwlblab

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

// apiJSON answers with v as JSON.
func apiJSON(v any) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
}

func apiError(code int, msg string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(api.Error{Error: msg})
	}
}

// upWith brings a fake lab up whose control socket mux answers.
func upWith(t *testing.T, mux *http.ServeMux) *Lab {
	t.Helper()
	f := newFake(t)
	f.serve(mux)
	l, err := Up(context.Background(), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestControlReads(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET "+api.PathStatus, apiJSON(api.Status{Lab: "x", PID: 42, TimeScale: 2}))
	mux.Handle("GET "+api.PathCounters, apiJSON(api.Counters{Drops: map[string]uint64{"no_route": 2}, GWLB: []api.GWLBMetrics{
		{Node: "g-az1", Drops: map[string]uint64{"no_healthy_target": 1}}, {Node: "g-az2", Drops: map[string]uint64{"no_healthy_target": 4}}}}))
	mux.Handle("GET "+api.PathTargets, apiJSON([]api.TargetHealth{{Target: "fw-1", State: "healthy"}}))
	mux.Handle("GET "+api.PathEndpoints, apiJSON([]api.Endpoint{{Name: "e1", State: api.EndpointPendingAcceptance}}))
	mux.Handle("POST /v1/targets/fw-1/deregister", apiJSON(api.TargetChange{Target: "fw-1", State: "draining"}))
	mux.Handle("POST /v1/targets/fw-9/register", apiError(404, `target "fw-9": not found in any target group`))
	mux.Handle("POST /v1/endpoints/e1/accept", apiJSON(api.EndpointChange{Endpoint: "e1", State: "available"}))
	l := upWith(t, mux)
	ctx := context.Background()
	if s, err := l.Emulator(ctx); err != nil || s.PID != 42 || s.TimeScale != 2 {
		t.Fatalf("emulator status %+v, %v", s, err)
	}
	if d, err := l.Drops(ctx); err != nil || d["no_route"] != 2 {
		t.Fatalf("drops %v, %v", d, err)
	}
	if d, err := l.GWLBDrops(ctx); err != nil || d["no_healthy_target"] != 5 {
		t.Fatalf("gwlb drops %v, %v", d, err)
	}
	if ts, err := l.Targets(ctx); err != nil || len(ts) != 1 || ts[0].State != "healthy" {
		t.Fatalf("targets %+v, %v", ts, err)
	}
	if eps, err := l.Endpoints(ctx); err != nil || eps[0].State != api.EndpointPendingAcceptance {
		t.Fatalf("endpoints %+v, %v", eps, err)
	}
	if c, err := l.Deregister(ctx, "fw-1"); err != nil || c.State != "draining" {
		t.Fatalf("deregister %+v, %v", c, err)
	}
	if _, err := l.Register(ctx, "fw-9"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `target "fw-9": not found in any target group`) {
		t.Fatalf("register of an unknown target: %v", err)
	}
	if c, err := l.AcceptEndpoint(ctx, "e1"); err != nil || c.State != "available" {
		t.Fatalf("accept %+v, %v", c, err)
	}
}

func TestControlSocketMissing(t *testing.T) {
	f := newFake(t)
	l, err := Up(context.Background(), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Targets(context.Background()); err == nil || !strings.Contains(err.Error(), "is the lab up?") {
		t.Fatalf("no socket: %v", err)
	}
}

func TestFlows(t *testing.T) {
	var query atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathFlows, func(w http.ResponseWriter, r *http.Request) {
		query.Store(r.URL.RawQuery)
		if r.URL.Query().Get("target") == "fw-9" {
			apiError(404, `target "fw-9": not found in any target group`)(w, r)
			return
		}
		enc := json.NewEncoder(w)
		for i := range 3 {
			_ = enc.Encode(api.Flow{Node: "g-az1", Src: fmt.Sprintf("10.0.1.10:%d", 1000+i), Proto: 6, Target: "fw-1"})
		}
		if r.URL.Query().Get("proto") != "udp" { // udp: a listing cut short
			_ = enc.Encode(api.FlowLine{Summary: &api.FlowSummary{Matched: 3, Listed: 3}})
		}
	})
	l := upWith(t, mux)
	ctx := context.Background()
	flows, err := l.Flows(ctx, api.FlowFilter{Target: "fw-1", Hosts: []string{"10.0.1.10"}, Proto: "tcp"})
	if err != nil || len(flows) != 3 || flows[2].Src != "10.0.1.10:1002" {
		t.Fatalf("flows %+v, %v", flows, err)
	}
	if q := query.Load().(string); q != "host=10.0.1.10&proto=tcp&target=fw-1" {
		t.Fatalf("query %s", q)
	}
	if _, err := l.Flows(ctx, api.FlowFilter{Proto: "udp"}); !errors.Is(err, api.ErrNoSummary) {
		t.Fatalf("a cut listing: %v", err)
	}
	if _, err := l.Flows(ctx, api.FlowFilter{Target: "fw-9"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown target: %v", err)
	}
	if _, err := l.Flows(ctx, api.FlowFilter{Hosts: []string{"not-an-address"}}); err == nil || !strings.Contains(err.Error(), "not an address or a prefix") {
		t.Fatalf("a bad filter: %v", err)
	}
	n := 0
	sum, err := l.EachFlow(ctx, api.FlowFilter{}, func(api.Flow) error { n++; return nil })
	if err != nil || n != 3 || sum.Matched != 3 {
		t.Fatalf("each flow: %d, %+v, %v", n, sum, err)
	}
}

// traceServer streams two traces at once, then one more each time fn
// signals on more, until the client goes.
func traceServer(more <-chan struct{}, hosts *atomic.Value) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathTrace, func(w http.ResponseWriter, r *http.Request) {
		hosts.Store(strings.Join(r.URL.Query()["host"], ","))
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		enc := json.NewEncoder(w)
		send := func(i int) {
			_ = enc.Encode(api.Trace{From: "client", Packet: fmt.Sprintf("packet %d", i), Result: "delivered to web"})
			w.(http.Flusher).Flush()
		}
		send(0)
		send(1)
		for i := 2; ; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-more:
				send(i)
			}
		}
	})
	return mux
}

func TestTraceWhileRunning(t *testing.T) {
	more := make(chan struct{})
	var hosts atomic.Value
	l := upWith(t, traceServer(more, &hosts))
	ran := false
	traces, err := l.Trace(context.Background(), TraceFilter{Hosts: []string{"10.0.1.10", "10.0.2.10"}, Settle: 100 * time.Millisecond}, func() error {
		ran = true
		more <- struct{}{}
		return nil
	})
	if err != nil || !ran {
		t.Fatalf("trace: %v (fn ran: %v)", err, ran)
	}
	if len(traces) != 3 || traces[2].Packet != "packet 2" {
		t.Fatalf("traces %+v", traces)
	}
	if h := hosts.Load().(string); h != "10.0.1.10,10.0.2.10" {
		t.Fatalf("hosts %s", h)
	}
	boom := errors.New("boom")
	if _, err := l.Trace(context.Background(), TraceFilter{Settle: 50 * time.Millisecond}, func() error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("fn's error became %v", err)
	}
}

func TestTraceFirst(t *testing.T) {
	more := make(chan struct{})
	var hosts atomic.Value
	l := upWith(t, traceServer(more, &hosts))
	got, err := l.TraceFirst(context.Background(), TraceFilter{}, 1, func(tr api.Trace) bool { return tr.Packet == "packet 1" })
	if err != nil || len(got) != 1 || got[0].Packet != "packet 1" {
		t.Fatalf("first match: %+v, %v", got, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	got, err = l.TraceFirst(ctx, TraceFilter{}, 5, nil)
	if !errors.Is(err, context.DeadlineExceeded) || len(got) != 2 {
		t.Fatalf("fewer than asked: %d traces, %v", len(got), err)
	}
}

// pcapStream is a pcap header and n records of 60 bytes.
func pcapStream(n int) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 4)
	b = append(b, make([]byte, 8)...)
	b = binary.LittleEndian.AppendUint32(b, 65535)
	b = binary.LittleEndian.AppendUint32(b, 1)
	for i := range n {
		b = binary.LittleEndian.AppendUint32(b, uint32(i))
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, 60)
		b = binary.LittleEndian.AppendUint32(b, 60)
		b = append(b, make([]byte, 60)...)
	}
	return b
}

func TestCapture(t *testing.T) {
	var query atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathCapture, func(w http.ResponseWriter, r *http.Request) {
		query.Store(r.URL.RawQuery)
		if r.URL.Query().Get("node") == "nope" {
			apiError(404, `node "nope": not found`)(w, r)
			return
		}
		_, _ = w.Write(pcapStream(3))
		if r.URL.Query().Get("count") == "" { // a stream that lasts
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		}
	})
	l := upWith(t, mux)
	path := filepath.Join(t.TempDir(), "c.pcap")
	n, err := l.Capture(context.Background(), "client", path, api.Limits{Count: 3})
	if err != nil || n != 3 {
		t.Fatalf("capture: %d frames, %v", n, err)
	}
	if q := query.Load().(string); q != "count=3&node=client" {
		t.Fatalf("query %s", q)
	}
	if b, _ := os.ReadFile(path); string(b) != string(pcapStream(3)) {
		t.Fatalf("pcap file of %d bytes differs", len(b))
	}
	n, err = l.CaptureWhile(context.Background(), "web", path, func() error { return nil })
	if err != nil || n != 3 {
		t.Fatalf("capture while: %d frames, %v", n, err)
	}
	if _, err := l.Capture(context.Background(), "nope", path, api.Limits{Count: 1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("capture of an unknown node: %v", err)
	}
}

func TestWaitTarget(t *testing.T) {
	var calls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathTargets, func(w http.ResponseWriter, r *http.Request) {
		state := "initial"
		if calls.Add(1) > 2 {
			state = "healthy"
		}
		apiJSON([]api.TargetHealth{
			{Node: "g-az1", Target: "fw-1", State: state},
			{Node: "g-az2", Target: "fw-1", State: "unused", Reason: "Target.NotInUse"},
			{Node: "g-az1", Target: "fw-2", State: "unhealthy"},
		})(w, r)
	})
	l := upWith(t, mux)
	if err := l.WaitTarget(context.Background(), "fw-1", "healthy"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := l.WaitTarget(ctx, "fw-2", "healthy"); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "g-az1: unhealthy") {
		t.Fatalf("a target that stays unhealthy: %v", err)
	}
	if err := l.WaitTarget(context.Background(), "fw-9", "healthy"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown target: %v", err)
	}
}

func TestNewControlClient(t *testing.T) {
	f := newFake(t)
	mux := http.NewServeMux()
	mux.Handle("GET "+api.PathTargets, apiJSON([]api.TargetHealth{{Target: "fw-1", State: "healthy"}}))
	f.serve(mux)
	l := NewControlClient(filepath.Join(f.stateDir, "control.sock"))
	if ts, err := l.Targets(context.Background()); err != nil || len(ts) != 1 {
		t.Fatalf("targets %+v, %v", ts, err)
	}
	if l.StateDir() != f.stateDir {
		t.Fatalf("state dir %s, want %s", l.StateDir(), f.stateDir)
	}
	if _, err := l.Exec(context.Background(), "client", "true"); err == nil || !strings.Contains(err.Error(), "use Up or Open") {
		t.Fatalf("exec without a binary: %v", err)
	}
}
