package gwlblab

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

func TestASGMethods(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+api.PathASGs, apiJSON([]api.ASG{{Name: "fw", Desired: 2, Min: 1, Max: 4}}))
	var got api.DesiredRequest
	mux.HandleFunc("POST /v1/asgs/fw/desired", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewDecoder(r.Body).Decode(&got)
		apiJSON(api.ASG{Name: "fw", Desired: got.Desired})(w, r)
	})
	mux.Handle("POST /v1/asgs/fw/lifecycle-action", apiError(400, `instance "fw-9" does not wait for hook "h"`))
	l := upWith(t, mux)
	ctx := context.Background()
	if g, err := l.DescribeASG(ctx, "fw"); err != nil || g.Desired != 2 {
		t.Fatalf("DescribeASG: %+v %v", g, err)
	}
	if _, err := l.DescribeASG(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
	if g, err := l.SetDesired(ctx, "fw", 3); err != nil || g.Desired != 3 || got.Desired != 3 {
		t.Fatalf("SetDesired: %+v %v (sent %+v)", g, err, got)
	}
	if _, err := l.CompleteLifecycleAction(ctx, "fw", "fw-9", "h", "CONTINUE"); !errors.Is(err, ErrBadRequest) {
		t.Fatalf("CompleteLifecycleAction: %v", err)
	}
}
