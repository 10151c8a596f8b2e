package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
)

// TestNodeActuator runs a stand-in for the program: node add answers a
// node as JSON, node remove fails with a message on stderr.
func TestNodeActuator(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "gwlb-lab")
	args := filepath.Join(dir, "args")
	script := `#!/bin/sh
echo "$@" >> ` + args + `
case "$2" in
add) echo '{"name":"'$3'","address":"10.20.1.7/24","running":true}' ;;
remove) echo "node $3 is a registered target" >&2; exit 1 ;;
esac
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	a := &nodeActuator{bin: bin, lab: "x1", timeout: 10e9}
	a.status = func(context.Context) (*labapi.Status, error) {
		return &labapi.Status{Phase: "up", Nodes: []labapi.NodeStatus{{Name: "fw-3"}}}, nil
	}
	ip, err := a.Launch("fw", "fw-3", "apps")
	if err != nil || ip.String() != "10.20.1.7" {
		t.Fatalf("Launch: %v %v", ip, err)
	}
	err = a.Terminate("fw", "fw-3")
	if err == nil || !strings.Contains(err.Error(), "gwlb-lab node remove: node fw-3 is a registered target") {
		t.Fatalf("Terminate: %v", err)
	}
	// Gone already: terminated.
	a.status = func(context.Context) (*labapi.Status, error) { return &labapi.Status{Phase: "up"}, nil }
	if err := a.Terminate("fw", "fw-3"); err != nil {
		t.Fatalf("Terminate of a node that is gone: %v", err)
	}
	b, _ := os.ReadFile(args)
	if got := string(b); got != "node add fw-3 --name x1 --subnet apps --asg fw --json\nnode remove fw-3 --name x1\nnode remove fw-3 --name x1\n" {
		t.Fatalf("runs:\n%s", got)
	}
	reads := 0
	a.alive = nil
	a.status = func(context.Context) (*labapi.Status, error) {
		reads++
		return &labapi.Status{Nodes: []labapi.NodeStatus{{Name: "fw-1", Running: true}, {Name: "fw-2"}}}, nil
	}
	if !a.Alive("fw-1") || a.Alive("fw-2") || a.Alive("fw-9") || reads != 1 {
		t.Fatalf("alive fw-1 %v, fw-2 %v, fw-9 %v after %d reads", a.Alive("fw-1"), a.Alive("fw-2"), a.Alive("fw-9"), reads)
	}
	// A reading taken before an instance's launch ended does not know its
	// node: it is read again, not taken for dead.
	a.mu.Lock()
	a.launched = map[string]time.Time{"fw-3": time.Now()}
	a.mu.Unlock()
	a.status = func(context.Context) (*labapi.Status, error) {
		reads++
		return &labapi.Status{Nodes: []labapi.NodeStatus{{Name: "fw-1", Running: true}, {Name: "fw-3", Running: true}}}, nil
	}
	if !a.Alive("fw-3") || reads != 2 {
		t.Fatalf("fw-3 launched after the last reading: alive %v after %d reads", a.Alive("fw-3"), reads)
	}
	if !a.Alive("fw-3") || reads != 2 {
		t.Fatalf("fw-3 read again though the reading is newer than its launch (%d reads)", reads)
	}
	b2 := &nodeActuator{status: func(context.Context) (*labapi.Status, error) { return nil, errors.New("no lab") }}
	if !b2.Alive("fw-1") {
		t.Fatal("a failed status read made an instance dead")
	}
}
