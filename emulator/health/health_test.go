package health

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
)

func TestTrackerThresholds(t *testing.T) {
	tr := Tracker{HealthyThreshold: 5, UnhealthyThreshold: 2, Status: Status{State: Initial}}
	now := time.Unix(0, 0)
	fail := errors.New("refused")
	steps := []struct {
		err  error
		want State
	}{
		{nil, Initial}, {nil, Initial}, {nil, Initial}, {nil, Initial}, {nil, Healthy}, // 5 to become healthy
		{fail, Healthy}, {nil, Healthy}, // one failure is not enough, and a success resets the run
		{fail, Healthy}, {fail, Unhealthy}, // 2 in a row
		{nil, Unhealthy}, {nil, Unhealthy}, {nil, Unhealthy}, {nil, Unhealthy}, {nil, Healthy},
	}
	for i, s := range steps {
		tr.Observe(s.err, now)
		if tr.State != s.want {
			t.Fatalf("step %d: %v, want %v (%+v)", i, tr.State, s.want, tr.Status)
		}
	}
	if tr.LastError != "" || tr.Successes != 5 {
		t.Fatalf("status %+v", tr.Status)
	}
}

type fakeProber struct {
	mu   sync.Mutex
	down map[netip.Addr]bool
	seen map[netip.Addr]int
}

func (f *fakeProber) Probe(ctx context.Context, target netip.Addr, hc config.HealthCheck) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seen[target]++
	if f.down[target] {
		return errors.New("connection refused")
	}
	return nil
}

func TestCheckerRounds(t *testing.T) {
	fw1, fw2 := netip.MustParseAddr("10.20.1.11"), netip.MustParseAddr("10.20.1.12")
	p := &fakeProber{down: map[netip.Addr]bool{fw2: true}, seen: map[netip.Addr]int{}}
	got := map[int]State{}
	hc := config.HealthCheck{Protocol: "TCP", Port: 80, Interval: 10, Timeout: 5, HealthyThreshold: 3, UnhealthyThreshold: 2}
	c := NewChecker(hc, p, []Target{{0, fw1}, {1, fw2}}, Healthy, time.Now, func(d time.Duration) time.Duration { return d },
		func(i int, st Status) { got[i] = st.State })
	c.Round(context.Background())
	if got[0] != Healthy || got[1] != Healthy {
		t.Fatalf("after one failure %v", got)
	}
	c.Round(context.Background())
	if got[1] != Unhealthy {
		t.Fatalf("after two failures %v", got)
	}
	p.down[fw2] = false
	for range 3 {
		c.Round(context.Background())
	}
	if got[1] != Healthy || p.seen[fw1] != 5 {
		t.Fatalf("recovered %v, probes %v", got, p.seen)
	}
	c.Reset(1)
	if got[1] != Initial {
		t.Fatalf("after reset %v", got)
	}
}

func TestMatcher(t *testing.T) {
	m, err := ParseMatcher("200,202,300-310")
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[int]bool{200: true, 201: false, 202: true, 305: true, 311: false} {
		if m.Match(code) != want {
			t.Errorf("%d: %v", code, !want)
		}
	}
	if d, _ := ParseMatcher(""); !d.Match(399) || d.Match(400) {
		t.Error("default matcher is not 200-399")
	}
	for _, bad := range []string{"abc", "300-200", "200-x"} {
		if _, err := ParseMatcher(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// The prober against real servers on loopback (the netns path is empty, so
// it dials from this process's own namespace).
func TestNetnsProberOnLoopback(t *testing.T) {
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/broken" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer ok.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer tlsSrv.Close()
	port := func(u string) int {
		_, p, _ := net.SplitHostPort(u[len("http://"):])
		if p == "" {
			_, p, _ = net.SplitHostPort(u[len("https://"):])
		}
		n, _ := strconv.Atoi(p)
		return n
	}
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	lo := netip.MustParseAddr("127.0.0.1")
	var p NetnsProber
	cases := []struct {
		name string
		hc   config.HealthCheck
		ok   bool
	}{
		{"tcp open", config.HealthCheck{Protocol: "TCP", Port: port(ok.URL)}, true},
		{"tcp closed", config.HealthCheck{Protocol: "TCP", Port: closedPort}, false},
		{"http 200", config.HealthCheck{Protocol: "HTTP", Port: port(ok.URL), Path: "/", Matcher: "200-399"}, true},
		{"http 503", config.HealthCheck{Protocol: "HTTP", Port: port(ok.URL), Path: "/broken", Matcher: "200-399"}, false},
		{"https", config.HealthCheck{Protocol: "HTTPS", Port: port(tlsSrv.URL), Path: "/"}, true},
	}
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := p.Probe(ctx, lo, c.hc)
		cancel()
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
		}
	}
}

// A configuration built by hand with zero timings runs on AWS's defaults
// instead of panicking in time.NewTicker.
func TestCheckerZeroTimingsTakeDefaults(t *testing.T) {
	hc := config.HealthCheck{Protocol: "TCP", Port: 80, HealthyThreshold: 3, UnhealthyThreshold: 2}
	var asked []time.Duration
	c := NewChecker(hc, &fakeProber{down: map[netip.Addr]bool{}, seen: map[netip.Addr]int{}}, nil, Healthy, time.Now,
		func(d time.Duration) time.Duration { asked = append(asked, d); return d }, func(int, Status) {})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c.Run(ctx) // returns at once; must not panic
	if len(asked) == 0 || asked[0] != DefaultInterval*time.Second {
		t.Fatalf("interval asked %v, want %v", asked, DefaultInterval*time.Second)
	}
}

// A starting lab's targets are healthy on their first success, however
// many fast probes fail first (the program may not listen yet); a target
// that never answers is decided by the regular rounds only; a target
// registered again goes back to the regular thresholds.
func TestStartingLabFirstVerdict(t *testing.T) {
	fw1, fw2 := netip.MustParseAddr("10.20.1.11"), netip.MustParseAddr("10.20.1.12")
	p := &fakeProber{down: map[netip.Addr]bool{fw1: true, fw2: true}, seen: map[netip.Addr]int{}}
	got := map[int]State{}
	hc := config.HealthCheck{Protocol: "TCP", Port: 80, Interval: 10, Timeout: 5, HealthyThreshold: 5, UnhealthyThreshold: 2}
	c := NewChecker(hc, p, []Target{{0, fw1}, {1, fw2}}, Initial, time.Now, func(d time.Duration) time.Duration { return d },
		func(i int, st Status) { got[i] = st.State })
	ctx := context.Background()
	for range 5 {
		c.StartRound(ctx)
	}
	if got[0] != Initial || got[1] != Initial || !c.Starting() {
		t.Fatalf("failed start probes decided: %v", got)
	}
	p.down[fw1] = false
	c.StartRound(ctx)
	if got[0] != Healthy || got[1] != Initial {
		t.Fatalf("after fw-1's first success: %v", got)
	}
	c.Round(ctx)
	c.Round(ctx)
	if got[0] != Healthy || got[1] != Unhealthy || c.Starting() {
		t.Fatalf("after two regular rounds: %v", got)
	}
	n := p.seen[fw1]
	c.StartRound(ctx)
	if p.seen[fw1] != n {
		t.Fatal("a decided target is still probed by start rounds")
	}
	c.Reset(0)
	c.StartRound(ctx)
	if got[0] != Initial {
		t.Fatalf("a registered target passed on one start probe: %v", got)
	}
}

func TestCheckerOverrideFailsWithoutProbing(t *testing.T) {
	fw1, fw2 := netip.MustParseAddr("10.20.1.11"), netip.MustParseAddr("10.20.1.12")
	p := &fakeProber{down: map[netip.Addr]bool{}, seen: map[netip.Addr]int{}}
	got := map[int]Status{}
	hc := config.HealthCheck{Protocol: "TCP", Port: 80, Interval: 10, Timeout: 5, HealthyThreshold: 2, UnhealthyThreshold: 3}
	c := NewChecker(hc, p, []Target{{0, fw1}, {1, fw2}}, Healthy, time.Now, func(d time.Duration) time.Duration { return d },
		func(i int, st Status) { got[i] = st })
	forced := errors.New("forced")
	var failing sync.Map
	failing.Store(1, true)
	c.SetOverride(func(i int) error {
		if _, ok := failing.Load(i); ok {
			return forced
		}
		return nil
	})
	// The unhealthy threshold applies as to any failure.
	for round := 1; round <= 3; round++ {
		c.Round(context.Background())
		want := Healthy
		if round == 3 {
			want = Unhealthy
		}
		if got[1].State != want || got[1].LastError != "forced" || got[0].State != Healthy {
			t.Fatalf("round %d: %+v", round, got)
		}
	}
	if p.seen[fw2] != 0 || p.seen[fw1] != 3 {
		t.Fatalf("probes %v: a forced failure must not probe", p.seen)
	}
	failing.Delete(1)
	for range 2 {
		c.Round(context.Background())
	}
	if got[1].State != Healthy {
		t.Fatalf("cleared: %+v", got[1])
	}
}

// A target added at run time starts initial and needs the healthy
// threshold of successful rounds; the others keep their state.
func TestCheckerAdd(t *testing.T) {
	fw1, fw9 := netip.MustParseAddr("10.20.1.11"), netip.MustParseAddr("10.20.1.19")
	p := &fakeProber{down: map[netip.Addr]bool{}, seen: map[netip.Addr]int{}}
	var mu sync.Mutex
	got := map[int]State{}
	hc := config.HealthCheck{Protocol: "TCP", Port: 80, Interval: 10, Timeout: 5, HealthyThreshold: 3, UnhealthyThreshold: 2}
	c := NewChecker(hc, p, []Target{{0, fw1}}, Healthy, time.Now, func(d time.Duration) time.Duration { return d },
		func(i int, st Status) { mu.Lock(); got[i] = st.State; mu.Unlock() })
	c.Add(Target{Index: 5, IP: fw9})
	if got[5] != Initial {
		t.Fatalf("added target starts %v", got[5])
	}
	for i := range 3 {
		if got[5] == Healthy {
			t.Fatalf("healthy after %d rounds, threshold 3", i)
		}
		c.Round(context.Background())
	}
	if got[5] != Healthy || got[0] != Healthy || p.seen[fw9] != 3 {
		t.Fatalf("states %v, probes %v", got, p.seen)
	}
	c.Add(Target{Index: 5, IP: fw9}) // again: a reset
	if got[5] != Initial || len(c.targets) != 2 {
		t.Fatalf("second add: %v, %d targets", got, len(c.targets))
	}
}
