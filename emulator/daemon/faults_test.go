package daemon

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
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
	var ts []gwlb.TargetHealth
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
