package gwlblab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

// RegisterIn registers any instance of the lab (its node name, or its
// address, which target type ip requires) in the target group of load
// balancer gwlb, which may be empty when the lab has one. A target new to
// the group starts initial and gets no flow before it is healthy. The
// registration outlives an emulator restart. ErrNotFound for an unknown
// instance or load balancer.
func (l *Lab) RegisterIn(ctx context.Context, target, gwlb string) (api.TargetChange, error) {
	var c api.TargetChange
	err := l.ctl.call(ctx, http.MethodPost, api.TargetPath(target, "register")+api.RegisterQuery(gwlb), &c)
	return c, err
}

// DeregisterFrom deregisters a target from the target group of load
// balancer gwlb (every one that has it when empty); it drains.
func (l *Lab) DeregisterFrom(ctx context.Context, target, gwlb string) (api.TargetChange, error) {
	var c api.TargetChange
	err := l.ctl.call(ctx, http.MethodPost, api.TargetPath(target, "deregister")+api.RegisterQuery(gwlb), &c)
	return c, err
}

// Events returns the events the emulator holds (the last 4096), oldest
// first.
func (l *Lab) Events(ctx context.Context) ([]api.Event, error) {
	out := []api.Event{}
	err := l.eachEvent(ctx, api.EventsQuery{}, func(e api.Event) error { out = append(out, e); return nil })
	return out, err
}

// ErrStop ends FollowEvents without an error when fn returns it.
var ErrStop = errors.New("stop following")

// FollowEvents calls fn with each event after sequence number after (0:
// every event held), then with each new one as it happens, until ctx ends
// (it returns nil then), fn returns ErrStop (nil) or another error (that
// error).
func (l *Lab) FollowEvents(ctx context.Context, after uint64, fn func(api.Event) error) error {
	err := l.eachEvent(ctx, api.EventsQuery{After: after, Follow: true}, fn)
	if errors.Is(err, ErrStop) || ctx.Err() != nil {
		return nil
	}
	return err
}

func (l *Lab) eachEvent(ctx context.Context, q api.EventsQuery, fn func(api.Event) error) error {
	body, err := l.ctl.stream(ctx, q.Path())
	if err != nil {
		return err
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var e api.Event
		if err := dec.Decode(&e); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("events stream: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}
