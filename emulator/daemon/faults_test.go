package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/emulator/fabric"
	"github.com/gwlb-lab/gwlb-lab/emulator/gwlb"
	"github.com/gwlb-lab/gwlb-lab/emulator/health"
)

func TestLinkAPI(t *testing.T) {
	_, c, _ := startDaemon(t)
	ctx := context.Background()
	var l api.Link
	if err := c.Put(ctx, "/v1/links/web", api.LinkSettings{LossPercent: 12.5, Delay: "40ms", Jitter: "5ms"}, &l); err != nil {
		t.Fatal(err)
	}
	if l.Node != "web" || l.LossPercent != 12.5 || l.Delay != "40ms" || l.Jitter != "5ms" || l.Down {
		t.Fatalf("link %+v", l)
	}
	var links []api.Link
	if err := c.Get(ctx, "/v1/links", &links); err != nil || len(links) != 5 {
		t.Fatalf("links %+v %v", links, err)
	}
	for _, x := range links {
		if (x.Node == "web") != (x.LinkSettings != api.LinkSettings{}) {
			t.Fatalf("links %+v", links)
		}
	}
	var cleared api.Link
	if err := c.Delete(ctx, "/v1/links/web", &cleared); err != nil || cleared.Node != "web" || (cleared.LinkSettings != api.LinkSettings{}) {
		t.Fatalf("cleared %+v %v", cleared, err)
	}
	for _, bad := range []struct {
		in   any
		says string
	}{
		{api.LinkSettings{LossPercent: 120}, "loss must be a percentage"},
		{api.LinkSettings{Delay: "soon"}, `delay "soon" is not a duration`},
		{api.LinkSettings{Jitter: "1ms"}, "set a delay too"},
		{map[string]any{"lossy": true}, "unknown field"},
	} {
		err := c.Put(ctx, "/v1/links/web", bad.in, nil)
		if !errors.Is(err, control.ErrBadRequest) || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%+v: %v", bad.in, err)
		}
	}
	if err := c.Put(ctx, "/v1/links/nope", api.LinkSettings{Down: true}, nil); !errors.Is(err, control.ErrNotFound) {
		t.Fatalf("unknown node: %v", err)
	}
}

func TestHealthOverrideAPI(t *testing.T) {
	d, c, _ := startDaemon(t)
	ctx := context.Background()
	var res api.HealthOverrideResult
	if err := c.Put(ctx, "/v1/targets/fw-2/health", api.HealthOverride{Fail: true}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Target != "fw-2" || !res.Fail || len(res.Nodes) != 1 || res.Nodes[0] != "gwlb-1-az1" {
		t.Fatalf("result %+v", res)
	}
	// The node's checker fails the target without probing it, and the
	// thresholds decide, as for any failed check.
	lb := d.Fabric().LBs()[0]
	n := lb.Nodes()[0]
	idx := lb.Target("fw-2").Index()
	chk := d.checkers[n]
	n.SetHealth(idx, health.Status{State: health.Healthy})
	chk.Reset(idx)
	for range 3 { // the fixture's unhealthy threshold
		chk.Round(ctx)
	}
	var ts []api.TargetHealth
	if err := c.Get(ctx, "/v1/targets", &ts); err != nil {
		t.Fatal(err)
	}
	for _, th := range ts {
		if th.Target != "fw-2" {
			continue
		}
		if !th.ForcedFailure || th.State != "unhealthy" || th.LastError != gwlb.ErrForcedFailure.Error() {
			t.Fatalf("fw-2 %+v", th)
		}
	}
	if err := c.Put(ctx, "/v1/targets/fw-2/health", api.HealthOverride{Fail: false, Node: "gwlb-1-az1"}, &res); err != nil || res.Fail {
		t.Fatalf("clear %+v %v", res, err)
	}
	if n.Forced(idx) != nil {
		t.Fatal("still forced")
	}
	if err := c.Put(ctx, "/v1/targets/fw-9/health", api.HealthOverride{Fail: true}, nil); !errors.Is(err, control.ErrNotFound) {
		t.Fatalf("unknown target: %v", err)
	}
	if err := c.Put(ctx, "/v1/targets/fw-2/health", api.HealthOverride{Fail: true, Node: "gwlb-9"}, nil); !errors.Is(err, control.ErrNotFound) {
		t.Fatalf("unknown node: %v", err)
	}
}

func TestRouteAPI(t *testing.T) {
	_, c, _ := startDaemon(t)
	ctx := context.Background()
	var tables []api.RouteTable
	if err := c.Get(ctx, "/v1/routes", &tables); err != nil || len(tables) != 4 {
		t.Fatalf("tables %+v %v", tables, err)
	}
	var tbl api.RouteTable
	if err := c.Post(ctx, "/v1/routes/app", api.RouteEdit{Op: api.RouteReplace, Destination: "0.0.0.0/0", Target: "igw-consumer"}, &tbl); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range tbl.Routes {
		if r.Destination == "0.0.0.0/0" {
			found = r.Target == "igw-consumer" && r.Kind == "igw" && !r.Implicit
		}
	}
	if tbl.Name != "app" || tbl.VPC != "consumer" || !found {
		t.Fatalf("table %+v", tbl)
	}
	for _, bad := range []struct {
		table string
		in    api.RouteEdit
		code  error
		says  string
	}{
		{"app", api.RouteEdit{Op: api.RouteAdd, Destination: "0.0.0.0", Target: "igw-consumer"}, control.ErrBadRequest, "is not a CIDR"},
		{"app", api.RouteEdit{Op: api.RouteAdd, Destination: "192.0.2.0/24", Target: "nope"}, control.ErrBadRequest, `target "nope" is not defined`},
		{"nope", api.RouteEdit{Op: api.RouteAdd, Destination: "192.0.2.0/24", Target: "blackhole"}, control.ErrNotFound, `route table "nope"`},
	} {
		err := c.Post(ctx, "/v1/routes/"+bad.table, bad.in, nil)
		if !errors.Is(err, bad.code) || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%+v: %v", bad.in, err)
		}
	}
}

func TestEditsKeptForTheNextEmulator(t *testing.T) {
	d, c, _ := startDaemon(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "runtime-edits.json")
	if err := d.KeepEdits(path); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("edits file written before any edit: %v", err)
	}
	for _, step := range []func() error{
		func() error { return c.Put(ctx, "/v1/links/web", api.LinkSettings{LossPercent: 5, Delay: "20ms"}, nil) },
		func() error { return c.Put(ctx, "/v1/links/fw-1", api.LinkSettings{Down: true}, nil) },
		func() error { return c.Delete(ctx, "/v1/links/fw-1", nil) },
		func() error { return c.Put(ctx, "/v1/targets/fw-2/health", api.HealthOverride{Fail: true}, nil) },
		func() error {
			return c.Post(ctx, "/v1/routes/app", api.RouteEdit{Op: api.RouteAdd, Destination: "192.0.2.0/24", Target: "blackhole"}, nil)
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}

	// The next emulator of the lab, on the same configuration.
	snap, err := config.Load("testdata/default-lab.json")
	if err != nil {
		t.Fatal(err)
	}
	next := restarted(t, snap, path)
	f := next.Fabric()
	for node, want := range map[string]fabric.LinkImpairment{
		"web":  {LossPercent: 5, Delay: 20 * time.Millisecond},
		"fw-1": {},
	} {
		if l, _ := f.Link(node); l.LinkImpairment != want {
			t.Errorf("link of %s %+v, want %+v", node, l.LinkImpairment, want)
		}
	}
	for _, th := range f.Targets() {
		if th.ForcedFailure != (th.Target == "fw-2") {
			t.Errorf("target %+v", th)
		}
	}
	found := false
	for _, tbl := range f.RouteTables() {
		for _, r := range tbl.Routes {
			found = found || (tbl.Name == "app" && r.Destination.String() == "192.0.2.0/24" && r.Kind == config.TargetBlackhole)
		}
	}
	if !found {
		t.Errorf("route not restored: %+v", f.RouteTables())
	}

	// A file that does not parse is reported, and the emulator runs on.
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := next.KeepEdits(path); err == nil || !strings.Contains(err.Error(), "runs without them") {
		t.Fatalf("damaged edits file: %v", err)
	}
}

func TestLinkPatchChangesOnlyWhatItNames(t *testing.T) {
	_, c, _ := startDaemon(t)
	ctx := context.Background()
	pf := func(f float64) *float64 { return &f }
	ps := func(s string) *string { return &s }
	pb := func(b bool) *bool { return &b }
	steps := []struct {
		change api.LinkChange
		want   api.LinkSettings
	}{
		{api.LinkChange{Delay: ps("40ms"), Jitter: ps("10ms")}, api.LinkSettings{Delay: "40ms", Jitter: "10ms"}},
		{api.LinkChange{LossPercent: pf(5)}, api.LinkSettings{LossPercent: 5, Delay: "40ms", Jitter: "10ms"}},
		{api.LinkChange{Down: pb(true)}, api.LinkSettings{Down: true, LossPercent: 5, Delay: "40ms", Jitter: "10ms"}},
		{api.LinkChange{Down: pb(false), Delay: ps("0s")}, api.LinkSettings{LossPercent: 5}},
		{api.LinkChange{LossPercent: pf(0)}, api.LinkSettings{}},
	}
	for i, s := range steps {
		var l api.Link
		if err := c.Patch(ctx, "/v1/links/fw-1", s.change, &l); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if l.LinkSettings != s.want {
			t.Fatalf("step %d: %+v, want %+v", i, l.LinkSettings, s.want)
		}
	}
	err := c.Patch(ctx, "/v1/links/fw-1", api.LinkChange{Jitter: ps("1ms")}, nil)
	if !errors.Is(err, control.ErrBadRequest) || !strings.Contains(err.Error(), "set a delay too") {
		t.Fatalf("jitter without a delay: %v", err)
	}
	err = c.Patch(ctx, "/v1/links/fw-1", api.LinkChange{Delay: ps("10ms"), Jitter: ps("20ms")}, nil)
	if !errors.Is(err, control.ErrBadRequest) || !strings.Contains(err.Error(), "longer than the delay") {
		t.Fatalf("jitter over the delay: %v", err)
	}
	if err := c.Patch(ctx, "/v1/links/nope", api.LinkChange{Down: pb(true)}, nil); !errors.Is(err, control.ErrNotFound) {
		t.Fatalf("unknown node: %v", err)
	}
}

func TestHealthOverrideByGWLB(t *testing.T) {
	_, c, _ := startDaemon(t)
	ctx := context.Background()
	var res api.HealthOverrideResult
	if err := c.Put(ctx, "/v1/targets/fw-1/health", api.HealthOverride{Fail: true, GWLB: "gwlb-1"}, &res); err != nil || len(res.Nodes) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	if err := c.Put(ctx, "/v1/targets/fw-1/health", api.HealthOverride{Fail: true, GWLB: "gwlb-9"}, nil); !errors.Is(err, control.ErrNotFound) || !strings.Contains(err.Error(), `gwlb "gwlb-9"`) {
		t.Fatalf("unknown gwlb: %v", err)
	}
}
