package lab

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/gwlb-lab/gwlb-lab/scenarios"
)

// resolveSrc parses the topology src (named name in errors) and resolves
// it as the lab "unit".
func resolveSrc(t *testing.T, src []byte, name string) *topology.Lab {
	t.Helper()
	f, err := topology.Parse(src, name)
	if err != nil {
		t.Fatal(err)
	}
	l, err := topology.Resolve(f, "unit")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func resolveDefault(t *testing.T) *topology.Lab {
	t.Helper()
	return resolveSrc(t, scenarios.Default(), "default.yaml")
}

func TestCompileDefaultLab(t *testing.T) {
	l := resolveDefault(t)
	s, err := Compile(l, InDir("/run/netns"), "/run/gwlb-lab/unit/control.sock")
	if err != nil {
		t.Fatal(err)
	}
	// Every node has a port, in its namespace.
	enis := map[string]config.ENI{}
	for _, e := range s.AllENIs() {
		enis[e.Node] = e
	}
	if len(enis) != len(l.Nodes) {
		t.Fatalf("%d ports for %d nodes", len(enis), len(l.Nodes))
	}
	web := enis["web"]
	if web.NetNS != "/run/netns/gwlb-unit-web" || web.IP.String() != "10.0.1.10" || web.PublicIP.String() != "203.0.113.10" || web.MTU != 9001 || !web.SourceDestCheck {
		t.Fatalf("web %+v", web)
	}
	if c := enis["client"]; c.PublicIP.IsValid() {
		t.Fatalf("an internet host got a mapped public address: %+v", c)
	}
	consumer := s.VPCs[0]
	if consumer.Name != "consumer" || consumer.InternetGateway == "" || consumer.EdgeRouteTable != "edge" {
		t.Fatalf("consumer %+v", consumer)
	}
	ep := consumer.Endpoints[0]
	if ep.Name != "gwlbe-1" || ep.GWLB != "gwlb-1" || ep.GWLBNode != "gwlb-1-az1" || !ep.Accepted {
		t.Fatalf("endpoint %+v", ep)
	}
	kinds := map[string]string{}
	for _, rt := range consumer.RouteTables {
		for _, r := range rt.Routes {
			kinds[rt.Name+" "+r.Destination.String()] = r.Kind + " " + r.Target
		}
	}
	for route, want := range map[string]string{
		"app 0.0.0.0/0":      "gwlbe gwlbe-1",
		"endpoint 0.0.0.0/0": "igw " + consumer.InternetGateway,
		"edge 10.0.1.0/24":   "gwlbe gwlbe-1",
		"app 10.0.0.0/16":    "local ",
	} {
		if kinds[route] != want {
			t.Errorf("%s -> %q, want %q", route, kinds[route], want)
		}
	}
	g := s.GWLBs[0]
	tg := g.TargetGroup
	if g.TCPIdleTimeout != 350 || tg.Stickiness != "5-tuple" || tg.DeregistrationDelay != 300 || tg.HealthCheck.Interval != 10 ||
		tg.HealthCheck.HealthyThreshold != 5 || tg.HealthCheck.UnhealthyThreshold != 2 || tg.OnUnhealthy != "no_rebalance" || len(tg.Targets) != 2 {
		t.Fatalf("AWS defaults lost in compile: %+v", g)
	}
}

func TestStateRoundTrip(t *testing.T) {
	p := Paths{Dir: t.TempDir()}
	if _, err := readState(p); !errors.Is(err, ErrNoLab) {
		t.Fatalf("missing state: %v", err)
	}
	st := &State{Lab: "x", Prefix: "gwlb-x-", Created: time.Unix(100, 0).UTC(), Phase: PhaseUp,
		Namespaces: []string{"gwlb-x-a"}, Processes: []Proc{{Node: "a", Role: RoleProgram, PID: 42, StartTime: 7, Argv: []string{"echo"}}}}
	if err := writeState(p, st); err != nil {
		t.Fatal(err)
	}
	got, err := readState(p)
	if err != nil || got.Processes[0].PID != 42 || got.Namespaces[0] != "gwlb-x-a" || got.Phase != PhaseUp {
		t.Fatalf("%+v %v", got, err)
	}
	if m, _ := filepath.Glob(filepath.Join(p.Dir, "*.tmp")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}
}

func TestParallel(t *testing.T) {
	var n atomic.Int64
	err := parallel(100, func(i int) error {
		n.Add(1)
		if i%10 == 3 {
			return fmt.Errorf("item %d", i)
		}
		return nil
	})
	if n.Load() != 100 {
		t.Fatalf("%d items ran", n.Load())
	}
	if err == nil || len(err.(interface{ Unwrap() []error }).Unwrap()) != 10 {
		t.Fatalf("errors: %v", err)
	}
	if parallel(0, func(int) error { return errors.New("never") }) != nil {
		t.Fatal("empty work failed")
	}
}

func TestReadStateReportsDamage(t *testing.T) {
	for name, content := range map[string]string{"empty": "", "truncated": `{"lab": "x", "namespa`} {
		t.Run(name, func(t *testing.T) {
			p := Paths{Dir: t.TempDir()}
			if err := os.WriteFile(p.State(), []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := readState(p); !errors.Is(err, ErrDamagedState) {
				t.Fatalf("readState = %v, want ErrDamagedState", err)
			}
		})
	}
}

// cgroupsOf must not let a state file aim cgroup.kill at a directory that
// is not this lab's.
func TestCgroupsOfIgnoresForeignRecords(t *testing.T) {
	m := &Manager{opts: Options{}}
	for _, rec := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/gwlb-lab/other", "/sys/fs/cgroup/system.slice/x"} {
		for _, dir := range m.cgroupsOf("x", &State{Cgroup: rec}) {
			if dir == rec {
				t.Errorf("cgroupsOf(%q) uses the recorded %q", "x", rec)
			}
		}
	}
	got := m.cgroupsOf("x", &State{Cgroup: "/elsewhere/gwlb-lab/x"})
	if len(got) == 0 || got[0] != "/elsewhere/gwlb-lab/x" {
		t.Errorf("cgroupsOf ignores a lab directory of the lab's own name: %v", got)
	}
}
