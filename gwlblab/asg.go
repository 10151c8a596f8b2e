package gwlblab

import (
	"context"
	"fmt"
	"net/http"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

// DescribeASGs returns the lab's Auto Scaling groups: capacity, instances
// with their lifecycle state and target health, policy state.
func (l *Lab) DescribeASGs(ctx context.Context) ([]api.ASG, error) {
	var gs []api.ASG
	err := l.ctl.call(ctx, http.MethodGet, api.PathASGs, &gs)
	return gs, err
}

// DescribeASG returns one group; an unknown one is ErrNotFound.
func (l *Lab) DescribeASG(ctx context.Context, name string) (api.ASG, error) {
	gs, err := l.DescribeASGs(ctx)
	if err != nil {
		return api.ASG{}, err
	}
	for _, g := range gs {
		if g.Name == name {
			return g, nil
		}
	}
	return api.ASG{}, fmt.Errorf("gwlblab: no auto scaling group %q in lab %s: %w", name, l.name, ErrNotFound)
}

// SetDesired sets a group's desired capacity (within its min and max) and
// returns the group; the emulator launches or terminates from then on.
func (l *Lab) SetDesired(ctx context.Context, group string, n int) (api.ASG, error) {
	var g api.ASG
	err := l.ctl.callJSON(ctx, http.MethodPost, api.ASGPath(group, "desired"), api.DesiredRequest{Desired: n}, &g)
	return g, err
}

// CompleteLifecycleAction ends an instance's wait on a lifecycle hook with
// result CONTINUE or ABANDON.
func (l *Lab) CompleteLifecycleAction(ctx context.Context, group, instance, hook, result string) (api.ASG, error) {
	var g api.ASG
	req := api.LifecycleActionRequest{Instance: instance, Hook: hook, Result: result}
	err := l.ctl.callJSON(ctx, http.MethodPost, api.ASGPath(group, "lifecycle-action"), req, &g)
	return g, err
}
