package gwlblab

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
)

func TestAddAndRemoveNode(t *testing.T) {
	f := newFake(t)
	l, err := Up(context.Background(), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(labapi.NodeStatus{Name: "fw-3", Address: "10.20.1.4/24", Runtime: true})
	f.answer("node", string(out), "", 0)
	ns, err := l.AddNode(context.Background(), NodeSpec{Name: "fw-3", Subnet: "appliances", Like: "fw-1", IPv6: "auto"})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Address != "10.20.1.4/24" || !ns.Runtime {
		t.Fatalf("node status %+v", ns)
	}
	want := "node add fw-3 --name " + l.Name() + " --json --subnet appliances --ipv6 auto --like fw-1"
	if args := f.args(); args[len(args)-1] != want {
		t.Fatalf("node add ran as %q, want %q", args[len(args)-1], want)
	}
	body := "run: {http_echo: {port: 8080}}\n"
	if _, err := l.AddNode(context.Background(), NodeSpec{Name: "p", Subnet: "app", NodeYAML: body}); err != nil {
		t.Fatal(err)
	}
	if args := f.args(); !strings.HasSuffix(args[len(args)-1], "--subnet app --file -") {
		t.Fatalf("node add with a node file ran as %q", args[len(args)-1])
	}
	if b, _ := os.ReadFile(filepath.Join(f.dir, "stdin.seen")); string(b) != body {
		t.Fatalf("node file on stdin: %q, want %q", b, body)
	}
	f.answer("node", "", "", 0)
	if err := l.RemoveNode(context.Background(), "fw-3"); err != nil {
		t.Fatal(err)
	}
	if args := f.args(); args[len(args)-1] != "node remove fw-3 --name "+l.Name() {
		t.Fatalf("node remove ran as %q", args[len(args)-1])
	}
	f.answer("node", "", `gwlb-lab: node "fw-3" is a registered target of gwlb "gwlb-1": deregister it first`, 1)
	if err := l.RemoveNode(context.Background(), "fw-3"); err == nil || !strings.Contains(err.Error(), "deregister it first") {
		t.Fatalf("refused remove: %v", err)
	}
	if _, err := l.AddNode(context.Background(), NodeSpec{Name: "x", Subnet: "app", Like: "web"}); err == nil || !strings.Contains(err.Error(), "deregister") {
		t.Fatalf("failed add: %v", err)
	}
}
