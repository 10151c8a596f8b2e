package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

func TestPrintASGs(t *testing.T) {
	var b strings.Builder
	dl := time.Date(2026, 1, 1, 10, 2, 3, 0, time.UTC)
	err := printASGs(&b, []api.ASG{{
		Name: "fw", VPC: "sec", Min: 1, Max: 4, Desired: 2, HealthCheckType: "ELB", HealthCheckGracePeriod: 300,
		TargetGroups: []string{"fw-tg"},
		Instances: []api.ASGInstance{
			{Name: "fw-1", AZ: "az1", Subnet: "a", IP: "10.0.1.5", State: api.LifecycleInService, Health: "Healthy", Targets: map[string]string{"fw-tg": "healthy"}},
			{Name: "fw-2", AZ: "az2", Subnet: "b", State: api.LifecyclePendingWait, Health: "Healthy", Reason: api.ASGReasonReplacement,
				WaitingHooks: []api.ASGHookWait{{Hook: "warm", Default: "ABANDON", Deadline: dl}}},
		},
		Terminated: []api.ASGInstance{{Name: "fw-0", AZ: "az2", Subnet: "b", State: api.LifecycleTerminated, Health: "Unhealthy", Reason: api.ASGReasonUnhealthyEC2}},
		Policy:     &api.ASGPolicy{Metric: "ActiveFlowCountPerTarget", TargetValue: 100, Value: 120, HighPoints: 2},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"group fw (vpc sec): desired 2, min 1, max 4; health check ELB, grace 300s; target groups fw-tg",
		"policy: ActiveFlowCountPerTarget target 100, last datapoint 120, 2/3 high, 0/15 low; scale in on",
		"fw-1      az1  a       10.0.1.5  InService",
		"fw-tg=healthy",
		"warm (ABANDON at lab 10:02:03)",
		"fw-0      az2  b       -         Terminated",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := printASGs(&b, nil); err != nil || b.String() != "the lab has no auto scaling group\n" {
		t.Fatalf("%q %v", b.String(), err)
	}
}

func TestASGArgs(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"asg", "set-desired", "fw", "many"}, `desired capacity "many" is not a count`},
		{[]string{"asg", "complete-lifecycle-action", "fw", "fw-1", "--result", "CONTINUE"}, "--hook is required"},
		{[]string{"asg", "complete-lifecycle-action", "fw", "fw-1", "--hook", "h", "--result", "maybe"}, "say CONTINUE or ABANDON"},
	} {
		var out, errb strings.Builder
		code := Main(t.Context(), Env{Args: c.args, Stdout: &out, Stderr: &errb, StateRoot: t.TempDir(), NetnsDir: t.TempDir()})
		if code != 1 || !strings.Contains(errb.String(), c.msg) {
			t.Errorf("%v: exit %d: %s", c.args, code, errb.String())
		}
	}
}
