package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
)

// nodeActuator adds and removes nodes through the daemon itself, as the
// lab's actuator does through the control socket.
type nodeActuator struct {
	mu    sync.Mutex
	d     *Daemon
	netns string
	n     int
}

func (a *nodeActuator) Launch(group, inst, subnet string) (netip.Addr, error) {
	a.mu.Lock()
	a.n++
	n := a.n
	a.mu.Unlock()
	ip := netip.AddrFrom4([4]byte{10, 20, 1, byte(100 + n)})
	_, err := a.d.addNode(api.Node{Name: inst, VPC: "security", Subnet: subnet, IP: ip.String(),
		MAC: fmt.Sprintf("02:00:00:00:01:%02x", n), NetNS: a.netns})
	return ip, err
}

func (a *nodeActuator) Terminate(group, inst string) error { return a.d.removeNode(inst) }
func (a *nodeActuator) Alive(string) bool                  { return true }

// TestASGControlAPI: set-desired launches instances through the actuator,
// registers them in the target group when InService, and scales in by
// deregistering, draining and removing the node.
func TestASGControlAPI(t *testing.T) {
	snap, err := config.Load("testdata/default-lab.json")
	if err != nil {
		t.Fatal(err)
	}
	snap.TimeScale = 100 // the deregistration delay (300 s) lasts 3 s
	snap.AutoScalingGroups = []config.AutoScalingGroup{{
		Name: "fleet", VPC: "security", Subnets: []config.ASGSubnet{{Name: "appliances", AZ: "az1"}},
		Min: 0, Max: 3, Desired: 0, HealthCheckGracePeriod: 300, HealthCheckType: "EC2",
		TargetGroups: []config.ASGTargetGroup{{Name: "fw-targets", GWLB: "gwlb-1"}},
	}}
	if err := snap.Validate(); err != nil {
		t.Fatal(err)
	}
	netns := filepath.Join(t.TempDir(), "netns")
	if err := os.WriteFile(netns, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The actuator is set before the controller's first round.
	var d *Daemon
	act := &nodeActuator{netns: netns}
	edits := filepath.Join(t.TempDir(), "runtime-edits.json")
	startHook = func(nd *Daemon) {
		d = nd
		act.d = nd
		nd.SetActuator(act)
		if err := nd.KeepEdits(edits); err != nil {
			t.Error(err)
		}
	}
	defer func() { startHook = nil }()
	_, c, _ := startSnapshot(t, snap)
	ctx := context.Background()
	describe := func() api.ASG {
		t.Helper()
		var gs []api.ASG
		if err := c.Get(ctx, api.PathASGs, &gs); err != nil {
			t.Fatal(err)
		}
		if len(gs) != 1 {
			t.Fatalf("groups %+v", gs)
		}
		return gs[0]
	}
	if g := describe(); g.Name != "fleet" || g.Desired != 0 || len(g.Instances) != 0 {
		t.Fatalf("group %+v", g)
	}
	err = c.Post(ctx, api.ASGPath("fleet", "desired"), api.DesiredRequest{Desired: 4}, nil)
	if !errors.Is(err, control.ErrBadRequest) || !strings.Contains(err.Error(), "outside the group's min-max (0-3)") {
		t.Fatalf("desired 4: %v", err)
	}
	err = c.Post(ctx, api.ASGPath("nope", "desired"), api.DesiredRequest{Desired: 1}, nil)
	if !errors.Is(err, control.ErrNotFound) {
		t.Fatalf("unknown group: %v", err)
	}
	var g api.ASG
	if err := c.Post(ctx, api.ASGPath("fleet", "desired"), api.DesiredRequest{Desired: 2}, &g); err != nil || g.Desired != 2 {
		t.Fatalf("desired 2: %v, %+v", err, g)
	}
	waitFor(t, 10*time.Second, func() bool {
		g := describe()
		return len(g.Instances) == 2 && g.Instances[0].State == api.LifecycleInService && g.Instances[1].State == api.LifecycleInService
	})
	if th := targetState(t, c, "fleet-1"); th.IP != "10.20.1.101" {
		t.Fatalf("fleet-1 target %+v", th)
	}
	err = c.Post(ctx, api.ASGPath("fleet", "lifecycle-action"), api.LifecycleActionRequest{Instance: "fleet-9", Hook: "h", Result: "CONTINUE"}, nil)
	if !errors.Is(err, control.ErrNotFound) {
		t.Fatalf("lifecycle action of an unknown instance: %v", err)
	}
	if err := c.Post(ctx, api.ASGPath("fleet", "desired"), api.DesiredRequest{Desired: 1}, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool {
		g := describe()
		return len(g.Instances) == 2 && g.Instances[0].State == api.LifecycleTerminating && g.Instances[0].Targets["fw-targets"] == api.TargetDraining
	})
	waitFor(t, 15*time.Second, func() bool {
		g := describe()
		return len(g.Instances) == 1 && g.Instances[0].Name == "fleet-2" && len(g.Terminated) == 1
	})
	for _, n := range d.fabric.AddedNodes() {
		if n.ENI.Node == "fleet-1" {
			t.Fatal("fleet-1's node is still in the fabric after termination")
		}
	}

	// The next emulator takes the group back from the edits: fleet-2
	// InService, desired 1, the next instance fleet-3.
	next := restarted(t, snap, edits)
	gs := next.ASG().Describe()
	if len(gs) != 1 || gs[0].Desired != 1 || len(gs[0].Instances) != 1 || gs[0].Instances[0].Name != "fleet-2" ||
		gs[0].Instances[0].State != api.LifecycleInService || gs[0].Instances[0].IP != "10.20.1.102" {
		t.Fatalf("restored %+v", gs)
	}
	if s := next.ASG().Save(); s[0].Next != 3 {
		t.Fatalf("restored next number %d, want 3", s[0].Next)
	}
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
