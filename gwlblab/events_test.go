package gwlblab

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

func TestEventsAndRegisterIn(t *testing.T) {
	mux := http.NewServeMux()
	var query string
	mux.HandleFunc("GET "+api.PathEvents, func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		enc := json.NewEncoder(w)
		for i := uint64(1); i <= 3; i++ {
			_ = enc.Encode(api.Event{Seq: i, Kind: api.EventTargetState, Target: "fw-3"})
		}
	})
	mux.HandleFunc("POST /v1/targets/fw-3/register", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gwlb") != "gwlb-1" {
			apiError(400, "no gwlb")(w, r)
			return
		}
		apiJSON(api.TargetChange{Target: "fw-3", State: "initial"})(w, r)
	})
	mux.Handle("POST /v1/targets/nobody/register", apiError(404, `no instance "nobody" in lab "x"; its instances: fw-1`))
	l := upWith(t, mux)
	ctx := context.Background()
	if c, err := l.RegisterIn(ctx, "fw-3", "gwlb-1"); err != nil || c.State != "initial" {
		t.Fatalf("RegisterIn: %+v %v", c, err)
	}
	if _, err := l.RegisterIn(ctx, "nobody", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown instance: %v", err)
	}
	evs, err := l.Events(ctx)
	if err != nil || len(evs) != 3 || evs[2].Seq != 3 || query != "" {
		t.Fatalf("events %+v %v (query %q)", evs, err, query)
	}
	var seen []uint64
	err = l.FollowEvents(ctx, 1, func(e api.Event) error {
		seen = append(seen, e.Seq)
		if len(seen) == 2 {
			return ErrStop
		}
		return nil
	})
	if err != nil || len(seen) != 2 || query != "after=1&follow=1" {
		t.Fatalf("follow: %v %v (query %q)", seen, err, query)
	}
}
