package gwlblab

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

// recorder answers every request with the handler of its route and keeps
// each request's method, path and decoded JSON body.
type recorder struct {
	mu   sync.Mutex
	seen []string // "METHOD path body"
}

func (r *recorder) handle(mux *http.ServeMux, pattern string, answer any) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, req *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(req.Body).Decode(&body)
		b, _ := json.Marshal(body)
		if body == nil {
			b = nil
		}
		r.mu.Lock()
		r.seen = append(r.seen, strings.TrimSpace(req.Method+" "+req.URL.EscapedPath()+" "+string(b)))
		r.mu.Unlock()
		if h, ok := answer.(http.HandlerFunc); ok {
			h(w, req)
			return
		}
		apiJSON(answer)(w, req)
	})
}

func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 {
		return ""
	}
	return r.seen[len(r.seen)-1]
}

func TestLinks(t *testing.T) {
	rec := &recorder{}
	mux := http.NewServeMux()
	fw1 := api.Link{Node: "fw-1", LinkSettings: api.LinkSettings{Down: true}, Dropped: api.LinkDrops{Down: 7}}
	rec.handle(mux, "GET "+api.PathLinks, []api.Link{fw1, {Node: "web"}})
	rec.handle(mux, "GET /v1/links/fw-1", fw1)
	rec.handle(mux, "PUT /v1/links/fw-1", fw1)
	rec.handle(mux, "PATCH /v1/links/fw-1", fw1)
	rec.handle(mux, "DELETE /v1/links/fw-1", api.Link{Node: "fw-1"})
	rec.handle(mux, "PUT /v1/links/web", apiError(400, "jitter 5ms needs a delay: set a delay too"))
	rec.handle(mux, "DELETE /v1/links/nobody", apiError(404, `node "nobody": not found`))
	l := upWith(t, mux)
	ctx := context.Background()

	link, err := l.Link("fw-1").Set(ctx, Impairment{Down: true, LossPercent: 12.5, Delay: 40 * time.Millisecond, Jitter: 5 * time.Millisecond})
	if err != nil || !link.Down || link.Dropped.Down != 7 {
		t.Fatalf("set: %+v, %v", link, err)
	}
	if got, want := rec.last(), `PUT /v1/links/fw-1 {"delay":"40ms","down":true,"jitter":"5ms","loss_percent":12.5}`; got != want {
		t.Fatalf("set sent %s, want %s", got, want)
	}
	// The zero impairment sends every field: PUT replaces the whole setting.
	if _, err := l.Link("fw-1").Set(ctx, Impairment{}); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.last(), `PUT /v1/links/fw-1 {"down":false,"loss_percent":0}`; got != want {
		t.Fatalf("set of nothing sent %s, want %s", got, want)
	}
	loss := 3.0
	if _, err := l.Link("fw-1").Change(ctx, api.LinkChange{LossPercent: &loss}); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.last(), `PATCH /v1/links/fw-1 {"loss_percent":3}`; got != want {
		t.Fatalf("change sent %s, want %s", got, want)
	}
	if link, err := l.Link("fw-1").Get(ctx); err != nil || link.Node != "fw-1" || !link.Down {
		t.Fatalf("get: %+v, %v", link, err)
	}
	if link, err := l.Link("fw-1").Clear(ctx); err != nil || link.Down {
		t.Fatalf("clear: %+v, %v", link, err)
	}
	if got := rec.last(); got != "DELETE /v1/links/fw-1" {
		t.Fatalf("clear sent %s", got)
	}
	links, err := l.Links(ctx)
	if err != nil || len(links) != 2 || links[1].Node != "web" {
		t.Fatalf("links: %+v, %v", links, err)
	}
	if _, err := l.Link("web").Set(ctx, Impairment{Jitter: 5 * time.Millisecond}); !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "set a delay too") {
		t.Fatalf("a refused setting: %v", err)
	}
	if _, err := l.Link("nobody").Clear(ctx); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `node "nobody"`) {
		t.Fatalf("an unknown node: %v", err)
	}
	if l.Link("web").Node() != "web" {
		t.Fatal("NodeLink.Node")
	}
}

func TestHealthOverride(t *testing.T) {
	rec := &recorder{}
	mux := http.NewServeMux()
	rec.handle(mux, "PUT /v1/targets/fw-1/health", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in api.HealthOverride
		_ = json.Unmarshal([]byte(strings.SplitN(rec.last(), " ", 3)[2]), &in)
		apiJSON(api.HealthOverrideResult{Target: "fw-1", Fail: in.Fail, Nodes: []string{"gwlb-1-az1"}})(w, r)
	}))
	rec.handle(mux, "PUT /v1/targets/fw-9/health", apiError(404, `target "fw-9": not found in any target group`))
	l := upWith(t, mux)
	ctx := context.Background()

	res, err := l.FailHealth(ctx, "fw-1")
	if err != nil || !res.Fail || len(res.Nodes) != 1 || res.Nodes[0] != "gwlb-1-az1" {
		t.Fatalf("fail-health: %+v, %v", res, err)
	}
	if got, want := rec.last(), `PUT /v1/targets/fw-1/health {"fail":true}`; got != want {
		t.Fatalf("fail-health sent %s, want %s", got, want)
	}
	if res, err := l.ClearHealth(ctx, "gwlb-1/fw-1"); err != nil || res.Fail {
		t.Fatalf("clear-health: %+v, %v", res, err)
	}
	if got, want := rec.last(), `PUT /v1/targets/fw-1/health {"fail":false,"gwlb":"gwlb-1"}`; got != want {
		t.Fatalf("clear-health of GWLB/TARGET sent %s, want %s", got, want)
	}
	if _, err := l.OverrideHealth(ctx, "fw-1", api.HealthOverride{Fail: true, Node: "gwlb-1-az1"}); err != nil {
		t.Fatal(err)
	}
	if got, want := rec.last(), `PUT /v1/targets/fw-1/health {"fail":true,"node":"gwlb-1-az1"}`; got != want {
		t.Fatalf("override sent %s, want %s", got, want)
	}
	if _, err := l.OverrideHealth(ctx, "gwlb-1/fw-1", api.HealthOverride{GWLB: "gwlb-2"}); err == nil || !strings.Contains(err.Error(), "give one") {
		t.Fatalf("two GWLBs named: %v", err)
	}
	if _, err := l.FailHealth(ctx, "fw-9"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown target: %v", err)
	}
}

func TestRouteEdits(t *testing.T) {
	rec := &recorder{}
	mux := http.NewServeMux()
	app := api.RouteTable{VPC: "consumer", Name: "app", Subnets: []string{"app"}, Routes: []api.Route{
		{Destination: "10.0.0.0/16", Target: "local", Kind: "local", Implicit: true},
		{Destination: "0.0.0.0/0", Target: "gwlbe-1", Kind: "gwlbe"},
		{Destination: "192.0.2.0/24", Target: "blackhole", Kind: "blackhole"}}}
	tables := []api.RouteTable{app, {VPC: "consumer", Name: "main"}, {VPC: "security", Name: "main"}}
	rec.handle(mux, "GET "+api.PathRoutes, tables)
	rec.handle(mux, "POST /v1/routes/app", app)
	rec.handle(mux, "POST /v1/routes/edge", apiError(400, "a gateway route table only routes traffic into the vpc"))
	l := upWith(t, mux)
	ctx := context.Background()

	got, err := l.AddRoute(ctx, "app", "192.0.2.0/24", "blackhole")
	if err != nil || len(got.Routes) != 3 || got.Routes[2].Kind != "blackhole" {
		t.Fatalf("add: %+v, %v", got, err)
	}
	for _, c := range []struct {
		call func() (api.RouteTable, error)
		want string
	}{
		{func() (api.RouteTable, error) { return l.AddRoute(ctx, "app", "192.0.2.0/24", "blackhole") },
			`POST /v1/routes/app {"destination":"192.0.2.0/24","op":"add","target":"blackhole"}`},
		{func() (api.RouteTable, error) {
			return l.ReplaceRoute(ctx, "consumer/app", "0.0.0.0/0", "igw-consumer")
		},
			`POST /v1/routes/app {"destination":"0.0.0.0/0","op":"replace","target":"igw-consumer","vpc":"consumer"}`},
		{func() (api.RouteTable, error) { return l.DeleteRoute(ctx, "app", "192.0.2.0/24", "") },
			`POST /v1/routes/app {"destination":"192.0.2.0/24","op":"delete"}`},
	} {
		if _, err := c.call(); err != nil {
			t.Fatal(err)
		}
		if got := rec.last(); got != c.want {
			t.Fatalf("sent %s, want %s", got, c.want)
		}
	}
	if _, err := l.AddRoute(ctx, "edge", "198.51.100.0/24", "gwlbe-1"); !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "only routes traffic into the vpc") {
		t.Fatalf("a refused edit: %v", err)
	}
	if _, err := l.EditRoute(ctx, "consumer/app", api.RouteEdit{Op: api.RouteAdd, VPC: "security"}); err == nil || !strings.Contains(err.Error(), "give one") {
		t.Fatalf("two VPCs named: %v", err)
	}

	ts, err := l.Routes(ctx)
	if err != nil || len(ts) != 3 {
		t.Fatalf("routes: %+v, %v", ts, err)
	}
	if t1, err := l.RouteTable(ctx, "app"); err != nil || t1.VPC != "consumer" {
		t.Fatalf("table app: %+v, %v", t1, err)
	}
	if t1, err := l.RouteTable(ctx, "security/main"); err != nil || t1.VPC != "security" {
		t.Fatalf("table security/main: %+v, %v", t1, err)
	}
	if _, err := l.RouteTable(ctx, "main"); err == nil || !strings.Contains(err.Error(), "write VPC/main") {
		t.Fatalf("an ambiguous table: %v", err)
	}
	if _, err := l.RouteTable(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("an unknown table: %v", err)
	}
}
