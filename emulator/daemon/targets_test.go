package daemon

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/emulator/health"
)

// withFW3 is the fixture with one more appliance instance, fw-3, that no
// target group lists.
func withFW3(t testing.TB) *config.Snapshot {
	t.Helper()
	snap, err := config.Load("testdata/default-lab.json")
	if err != nil {
		t.Fatal(err)
	}
	for vi, v := range snap.VPCs {
		for si, sn := range v.Subnets {
			if sn.Name == "appliances" {
				e := sn.ENIs[0]
				e.Node, e.NetNS, e.IP = "fw-3", "/run/netns/gwlb-fixture-fw-3", netip.MustParseAddr("10.20.1.13")
				e.MAC[5]++
				snap.VPCs[vi].Subnets[si].ENIs = append(snap.VPCs[vi].Subnets[si].ENIs, e)
			}
		}
	}
	if err := snap.Validate(); err != nil {
		t.Fatal(err)
	}
	return snap
}

func targetState(t *testing.T, c *control.Client, name string) api.TargetHealth {
	t.Helper()
	var ts []api.TargetHealth
	if err := c.Get(context.Background(), api.PathTargets, &ts); err != nil {
		t.Fatal(err)
	}
	for _, th := range ts {
		if th.Target == name {
			return th
		}
	}
	t.Fatalf("no target %s in %+v", name, ts)
	return api.TargetHealth{}
}

func TestRegisterAnyInstance(t *testing.T) {
	_, c, _ := startSnapshot(t, withFW3(t))
	ctx := context.Background()
	for _, tc := range []struct {
		target, gwlb string
		kind         error
		msg          string
	}{
		{"nobody", "", control.ErrNotFound, `no instance "nobody" in lab "fixture"; its instances: fw-1, fw-2, fw-3, web`},
		{"gwlb-1-az1", "", control.ErrBadRequest, `"gwlb-1-az1" is a node of gwlb "gwlb-1", not an instance`},
		{"10.20.0.50", "", control.ErrBadRequest, `"10.20.0.50" is a node of gwlb "gwlb-1", not an instance`},
		{"gwlbe-1", "", control.ErrBadRequest, `"gwlbe-1" is a GWLB endpoint, not an instance`},
		{"client", "", control.ErrBadRequest, `"client" is an internet host`},
		{"web", "", control.ErrBadRequest, `web is in vpc "consumer", gwlb "gwlb-1" in vpc "security"`},
		{"fw-3", "nope", control.ErrNotFound, `no gwlb "nope" in lab "fixture"; its GWLBs: gwlb-1`},
	} {
		err := c.Post(ctx, api.TargetPath(tc.target, "register")+api.RegisterQuery(tc.gwlb), nil, nil)
		if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("register %s: %v, want %v with %q", tc.target, err, tc.kind, tc.msg)
		}
	}
	var ch api.TargetChange
	if err := c.Post(ctx, api.TargetPath("10.20.1.13", "register"), nil, &ch); err != nil || ch.Target != "fw-3" || ch.State != api.TargetInitial {
		t.Fatalf("register fw-3 by address: %+v %v", ch, err)
	}
	if th := targetState(t, c, "fw-3"); th.State != api.TargetInitial || th.Reason != health.ReasonInitial || th.IP != "10.20.1.13" || th.TargetAZ != "az1" {
		t.Fatalf("fw-3 after register: %+v", th)
	}
	if err := c.Post(ctx, api.TargetPath("fw-3", "deregister")+api.RegisterQuery("gwlb-1"), nil, &ch); err != nil || ch.State != api.TargetDraining {
		t.Fatalf("deregister fw-3: %+v %v", ch, err)
	}
	if th := targetState(t, c, "fw-3"); th.State != api.TargetDraining || th.Reason != "Target.DeregistrationInProgress" {
		t.Fatalf("fw-3 after deregister: %+v", th)
	}
}

func TestRegisterIPTargetType(t *testing.T) {
	snap := withFW3(t)
	snap.GWLBs[0].TargetGroup.TargetType = "ip"
	_, c, _ := startSnapshot(t, snap)
	ctx := context.Background()
	err := c.Post(ctx, api.TargetPath("fw-3", "register"), nil, nil)
	if !errors.Is(err, control.ErrBadRequest) || !strings.Contains(err.Error(), "target type ip: register fw-3 by its address, 10.20.1.13") {
		t.Fatalf("ip target by name: %v", err)
	}
	if err := c.Post(ctx, api.TargetPath("10.20.1.13", "register"), nil, nil); err != nil {
		t.Fatal(err)
	}
	if th := targetState(t, c, "fw-3"); th.State != api.TargetInitial {
		t.Fatalf("%+v", th)
	}
}

// readEvents reads the event listing to its end.
func readEvents(t *testing.T, c *control.Client, q api.EventsQuery) []api.Event {
	t.Helper()
	body, err := c.Stream(context.Background(), q.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	var out []api.Event
	dec := json.NewDecoder(body)
	for dec.More() {
		var e api.Event
		if err := dec.Decode(&e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestEventsOfTargets(t *testing.T) {
	d, c, _ := startSnapshot(t, withFW3(t))
	ctx := context.Background()
	if err := c.Post(ctx, api.TargetPath("fw-3", "register"), nil, nil); err != nil {
		t.Fatal(err)
	}
	// The health checker's verdicts, as a real check would report them.
	lb := d.Fabric().LBs()[0]
	n := lb.Nodes()[0]
	idx := lb.Target("fw-3").Index()
	report := d.reporter(lb, n)
	report(idx, health.Status{State: health.Healthy})
	report(idx, health.Status{State: health.Healthy}) // no change: no event
	report(idx, health.Status{State: health.Unhealthy, LastError: `http status 500 not in "200-399"`})
	report(idx, health.Status{State: health.Healthy})
	report(idx, health.Status{State: health.Unhealthy, LastError: "dial tcp 10.20.1.13:80: i/o timeout"})
	if err := c.Post(ctx, api.TargetPath("fw-3", "deregister"), nil, nil); err != nil {
		t.Fatal(err)
	}
	evs := readEvents(t, c, api.EventsQuery{})
	var got []string
	for i, e := range evs {
		if e.Seq != uint64(i+1) || e.Time.IsZero() || e.LabTime.IsZero() {
			t.Fatalf("event %d: %+v", i, e)
		}
		got = append(got, strings.TrimRight(e.Kind+" "+e.Target+" "+e.State+" "+e.Reason, " "))
	}
	want := []string{
		"emulator_start",
		"target_registered fw-3 initial Elb.InitialHealthChecking",
		"target_state fw-3 healthy",
		"target_state fw-3 unhealthy Target.ResponseCodeMismatch",
		"target_state fw-3 healthy",
		"target_state fw-3 unhealthy Target.Timeout",
		"target_deregistered fw-3 draining Target.DeregistrationInProgress",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if tail := readEvents(t, c, api.EventsQuery{After: 5}); len(tail) != 2 || tail[0].Seq != 6 {
		t.Fatalf("after 5: %+v", tail)
	}
	if none := readEvents(t, c, api.EventsQuery{Since: time.Now().Add(time.Hour)}); len(none) != 0 {
		t.Fatalf("since the future: %+v", none)
	}
}

func TestEventsFollow(t *testing.T) {
	_, c, _ := startDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	body, err := c.Stream(ctx, api.EventsQuery{After: 1, Follow: true}.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	if err := c.Put(ctx, "/v1/links/web", api.LinkSettings{Down: true}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case l := <-lines:
		var e api.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Kind != api.EventLink || e.Node != "web" || e.Seq != 2 {
			t.Fatalf("followed event %s: %v", l, err)
		}
	case <-ctx.Done():
		t.Fatal("no event followed")
	}
}

func TestEventRingBounds(t *testing.T) {
	clock := time.Unix(0, 0)
	r := newEvents(4, func() time.Time { return clock })
	for i := range 10 {
		r.add(api.Event{Kind: "k", Detail: string(rune('a' + i))})
	}
	evs, wake := r.after(0)
	if len(evs) != 4 || evs[0].Seq != 7 || evs[3].Seq != 10 || evs[0].Detail != "g" {
		t.Fatalf("ring: %+v", evs)
	}
	if evs, _ := r.after(8); len(evs) != 2 || evs[0].Seq != 9 {
		t.Fatalf("after 8: %+v", evs)
	}
	select {
	case <-wake:
		t.Fatal("woken without an event")
	default:
	}
	r.add(api.Event{Kind: "k"})
	select {
	case <-wake:
	default:
		t.Fatal("an event did not wake followers")
	}
}

func TestRuntimeTargetsKeptForTheNextEmulator(t *testing.T) {
	d, c, _ := startSnapshot(t, withFW3(t))
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "runtime-edits.json")
	if err := d.KeepEdits(path); err != nil {
		t.Fatal(err)
	}
	if err := c.Post(ctx, api.TargetPath("fw-3", "register"), nil, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), `"target": "fw-3"`) {
		t.Fatalf("edits file %s: %v", b, err)
	}
	next := restarted(t, withFW3(t), path)
	lb := next.Fabric().LBs()[0]
	if tg := lb.Target("fw-3"); tg == nil || !lb.Registered(tg) {
		t.Fatal("fw-3 not registered again by the next emulator")
	}
	// Deregistered, it is kept only as draining.
	if err := c.Post(ctx, api.TargetPath("fw-3", "deregister"), nil, nil); err != nil {
		t.Fatal(err)
	}
	var kept savedEdits
	if b, err := os.ReadFile(path); err != nil || json.Unmarshal(b, &kept) != nil || len(kept.Targets) != 0 ||
		len(kept.Deregistered) != 1 || kept.Deregistered[0].Target != "fw-3" || kept.Deregistered[0].DrainingUntil.IsZero() {
		t.Fatalf("edits after deregistration: %s (%v)", b, err)
	}
}

// TestDrainingKeptForTheNextEmulator: a target deregistered before an
// emulator restart drains for the rest of its deregistration delay under
// the next emulator, not at once nor for the whole delay again, and one the
// configuration lists stays deregistered (spec §4.5).
func TestDrainingKeptForTheNextEmulator(t *testing.T) {
	snap := withFW3(t)
	snap.TimeScale = 100 // the delay, 300 s, lasts 3 s
	d, c, _ := startSnapshot(t, snap)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "runtime-edits.json")
	if err := d.KeepEdits(path); err != nil {
		t.Fatal(err)
	}
	if err := c.Post(ctx, api.TargetPath("fw-3", "register"), nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"fw-1", "fw-3"} {
		if err := c.Post(ctx, api.TargetPath(n, "deregister"), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	time.Sleep(1500 * time.Millisecond) // half the delay drains under this emulator
	next := restarted(t, snap, path)
	lb := next.Fabric().LBs()[0]
	draining := func(name string) bool {
		tg := lb.Target(name)
		return tg != nil && lb.Draining(tg, next.clock.Now())
	}
	for _, n := range []string{"fw-1", "fw-3"} {
		if !draining(n) {
			t.Fatalf("%s not draining under the next emulator", n)
		}
	}
	waitFor(t, 5*time.Second, func() bool { return !draining("fw-1") && !draining("fw-3") })
	// Draining the whole delay again under the next emulator would end
	// after 4.5 s.
	if took := time.Since(start); took < 2500*time.Millisecond || took > 4200*time.Millisecond {
		t.Fatalf("draining ended %s after the deregistration, want the delay (3 s)", took)
	}
	if tg := lb.Target("fw-1"); lb.Registered(tg) {
		t.Fatal("fw-1 registered again by the next emulator")
	}
}
