package gwlblab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
)

// fakeScript stands in for gwlb-lab: it records its arguments (and node
// add's standard input), prints
// $FAKE_DIR/<verb>.out and .err, and exits with <verb>.code; for up -f it
// keeps a copy of the topology file.
const fakeScript = `#!/bin/sh
d="$FAKE_DIR"
printf '%s\n' "$*" >> "$d/args"
prev=""
for a in "$@"; do
	if [ "$prev" = "-f" ]; then cp "$a" "$d/topology.seen"; echo "$a" > "$d/topology.path"; fi
	prev="$a"
done
if [ "$1" = node ] && [ "$2" = add ]; then cat > "$d/stdin.seen"; fi
[ -f "$d/$1.out" ] && cat "$d/$1.out"
[ -f "$d/$1.err" ] && cat "$d/$1.err" >&2
exit $(cat "$d/$1.code" 2>/dev/null || echo 0)
`

// fake is a fake binary and the directory it answers from.
type fake struct {
	t        *testing.T
	dir, bin string
	stateDir string
}

func newFake(t *testing.T) *fake {
	t.Helper()
	f := &fake{t: t, dir: t.TempDir(), stateDir: t.TempDir()}
	f.bin = filepath.Join(f.dir, "gwlb-lab")
	if err := os.WriteFile(f.bin, []byte(fakeScript), 0o755); err != nil {
		t.Fatal(err)
	}
	status, _ := json.Marshal(labapi.Status{Lab: "x", Phase: "up", StateDir: f.stateDir, Nodes: []labapi.NodeStatus{{Name: "client", Address: "10.0.1.10"}}})
	f.answer("up", string(status), "", 0)
	f.answer("status", string(status), "", 0)
	return f
}

func (f *fake) answer(verb, out, errText string, code int) {
	f.t.Helper()
	for ext, s := range map[string]string{"out": out, "err": errText, "code": fmt.Sprint(code)} {
		if err := os.WriteFile(filepath.Join(f.dir, verb+"."+ext), []byte(s), 0o644); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fake) args() []string {
	b, _ := os.ReadFile(filepath.Join(f.dir, "args"))
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func (f *fake) opts() Options {
	return Options{Bin: f.bin, Env: []string{"FAKE_DIR=" + f.dir}}
}

// serve answers on the lab's control socket with mux.
func (f *fake) serve(mux http.Handler) {
	f.t.Helper()
	ln, err := net.Listen("unix", filepath.Join(f.stateDir, "control.sock"))
	if err != nil {
		f.t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener = ln
	srv.Start()
	f.t.Cleanup(srv.Close)
}

func TestFindBinary(t *testing.T) {
	f := newFake(t)
	if got, err := FindBinary(f.bin); err != nil || got != f.bin {
		t.Fatalf("FindBinary(%s) = %s, %v", f.bin, got, err)
	}
	t.Setenv("GWLB_LAB_BIN", f.bin)
	if got, err := FindBinary(""); err != nil || got != f.bin {
		t.Fatalf("from $GWLB_LAB_BIN: %s, %v", got, err)
	}
	t.Setenv("GWLB_LAB_BIN", "")
	t.Setenv("PATH", f.dir)
	if got, err := FindBinary(""); err != nil || got != f.bin {
		t.Fatalf("from PATH: %s, %v", got, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := FindBinary(""); !errors.Is(err, ErrNoBinary) || !strings.Contains(err.Error(), "GWLB_LAB_BIN") {
		t.Fatalf("no binary anywhere: %v", err)
	}
	if _, err := FindBinary(f.dir); !errors.Is(err, ErrNoBinary) {
		t.Fatalf("a directory as the binary: %v", err)
	}
}

func TestRandomName(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n := RandomName()
		if len(n) != 7 || n[0] != 't' || strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Fatalf("name %q", n)
		}
		seen[n] = true
	}
	if len(seen) < 95 {
		t.Fatalf("only %d different names of 100", len(seen))
	}
}

func TestUpWithTopologyAndDown(t *testing.T) {
	f := newFake(t)
	opts := f.opts()
	opts.Topology = []byte("lab: {}\n")
	opts.Name = "mine"
	opts.NoWait = true
	l, err := Up(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if l.Name() != "mine" || l.StateDir() != f.stateDir || l.Socket() != filepath.Join(f.stateDir, "control.sock") {
		t.Fatalf("lab %s, state %s, socket %s", l.Name(), l.StateDir(), l.Socket())
	}
	seen, _ := os.ReadFile(filepath.Join(f.dir, "topology.seen"))
	if string(seen) != "lab: {}\n" {
		t.Fatalf("up read topology %q", seen)
	}
	args := f.args()
	if !strings.HasPrefix(args[0], "up --name mine --json -f ") || !strings.HasSuffix(args[0], " --no-wait") {
		t.Fatalf("up ran with %q", args[0])
	}
	path, _ := os.ReadFile(filepath.Join(f.dir, "topology.path"))
	if err := l.Down(context.Background()); err != nil {
		t.Fatal(err)
	}
	if args := f.args(); args[len(args)-1] != "down --name mine" {
		t.Fatalf("down ran as %q", args[len(args)-1])
	}
	if _, err := os.Stat(strings.TrimSpace(string(path))); !os.IsNotExist(err) {
		t.Fatalf("the topology's temporary file is left: %v", err)
	}
	// A lab already gone is not an error; another failure is.
	f.answer("down", "", "gwlb-lab: no lab named \"mine\" is up", 3)
	if err := l.Down(context.Background()); err != nil {
		t.Fatalf("down of a lab gone: %v", err)
	}
	f.answer("down", "", "gwlb-lab: remove namespace: busy", 1)
	if err := l.Down(context.Background()); err == nil || !strings.Contains(err.Error(), "remove namespace: busy") {
		t.Fatalf("down failure: %v", err)
	}
}

func TestUpFailureCarriesOutput(t *testing.T) {
	f := newFake(t)
	f.answer("up", "", "creating namespaces\nlab.yaml:3: error: subnet overlaps\n", 1)
	opts := f.opts()
	opts.File = "lab.yaml"
	_, err := Up(context.Background(), opts)
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Code != 1 || !strings.Contains(err.Error(), "subnet overlaps") || !strings.Contains(err.Error(), "gwlb-lab up --name t") {
		t.Fatalf("up failure: %v", err)
	}
	if _, err := Up(context.Background(), Options{Bin: f.bin, File: "a", Topology: []byte("b")}); err == nil {
		t.Fatal("File and Topology together accepted")
	}
}

func TestStatusDegradedAndMissing(t *testing.T) {
	f := newFake(t)
	opts := f.opts()
	opts.Name = "x"
	l, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := l.NodeInfo(context.Background(), "client"); err != nil || n.Address != "10.0.1.10" {
		t.Fatalf("node client: %+v, %v", n, err)
	}
	if _, err := l.NodeInfo(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a missing node: %v", err)
	}
	degraded, _ := json.Marshal(labapi.Status{Lab: "x", Degraded: true, Problems: []string{"the emulator is not running"}})
	f.answer("status", string(degraded), "", 4)
	s, err := l.Status(context.Background())
	if s == nil || !s.Degraded || !errors.Is(err, ErrDegraded) || !strings.Contains(err.Error(), "the emulator is not running") {
		t.Fatalf("degraded: %+v, %v", s, err)
	}
	f.answer("status", "", "gwlb-lab: no lab named \"x\" is up", 3)
	if _, err := Open(context.Background(), opts); !errors.Is(err, ErrNoLab) {
		t.Fatalf("open of a missing lab: %v", err)
	}
}

func TestExecAndNodeVerbs(t *testing.T) {
	f := newFake(t)
	l, err := Up(context.Background(), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	f.answer("exec", "hello\n", "", 0)
	res, err := l.Exec(context.Background(), "client", "echo", "hello")
	if err != nil || res.Code != 0 || res.Stdout != "hello\n" {
		t.Fatalf("exec: %+v, %v", res, err)
	}
	want := "exec --name " + l.Name() + " client -- echo hello"
	if args := f.args(); args[len(args)-1] != want {
		t.Fatalf("exec ran as %q, want %q", args[len(args)-1], want)
	}
	// exec passes its command's status through: 3 is the command's, not
	// "no lab".
	f.answer("exec", "", "boom", 3)
	res, err = l.Exec(context.Background(), "client", "false")
	if err != nil || res.Code != 3 || errors.Is(res.Err(), ErrNoLab) {
		t.Fatalf("exec exit 3: %+v, %v, %v", res, err, res.Err())
	}
	f.answer("exec", "", "curl: (28) Connection timed out after 3001 milliseconds", 28)
	_, err = l.Curl(context.Background(), "client", "http://203.0.113.10/")
	var te *TrafficError
	if !errors.As(err, &te) || te.Result.Code != 28 || !strings.Contains(err.Error(), "curl http://203.0.113.10/ from client: exit status 28: curl: (28)") {
		t.Fatalf("curl failure: %v", err)
	}
	f.answer("exec", "", "", 0)
	if err := l.TCP(context.Background(), "client", "2001:db8::1", 80); err != nil {
		t.Fatal(err)
	}
	if args := f.args(); !strings.HasSuffix(args[len(args)-1], "probe --tcp --timeout 3s [2001:db8::1]:80") {
		t.Fatalf("tcp probe ran as %q", args[len(args)-1])
	}
	if err := l.Ping(context.Background(), "client", "10.0.2.10", "-s", "1400"); err != nil {
		t.Fatal(err)
	}
	if args := f.args(); !strings.HasSuffix(args[len(args)-1], "-- ping -n -c 1 -W 2 -s 1400 10.0.2.10") {
		t.Fatalf("ping ran as %q", args[len(args)-1])
	}
	for verb, fn := range map[string]func(context.Context) error{
		"stop": l.Node("fw-1").Stop, "start": l.Node("fw-1").Start, "restart": l.Node("fw-1").Restart,
		"pause": l.Node("fw-1").Pause, "unpause": l.Node("fw-1").Unpause,
	} {
		if err := fn(context.Background()); err != nil {
			t.Fatal(err)
		}
		if args := f.args(); args[len(args)-1] != "node "+verb+" fw-1 --name "+l.Name() {
			t.Fatalf("node %s ran as %q", verb, args[len(args)-1])
		}
	}
	f.answer("node", "", "gwlb-lab: node \"fw-9\": no such node", 1)
	if err := l.Node("fw-9").Stop(context.Background()); err == nil || !strings.Contains(err.Error(), "no such node") {
		t.Fatalf("node stop of a missing node: %v", err)
	}
}

func TestRunCancelled(t *testing.T) {
	f := newFake(t)
	l, err := Up(context.Background(), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Exec(ctx, "client", "true"); !errors.Is(err, context.Canceled) {
		t.Fatalf("exec with a cancelled context: %v", err)
	}
}

func TestFlowLog(t *testing.T) {
	f := newFake(t)
	l, err := Up(context.Background(), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	if recs, err := l.FlowLog(context.Background(), "fw-1"); err != nil || len(recs) != 0 {
		t.Fatalf("no flow log yet: %v, %v", recs, err)
	}
	logs := filepath.Join(f.stateDir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	line := `{"time":"2026-01-01T00:00:00Z","event":"flow","src":"10.0.1.10","dst":"198.51.100.10","proto":6,"dir":"original","gwlb":"10.0.9.10"}` + "\n"
	if err := os.WriteFile(filepath.Join(logs, "fw-1.flows.jsonl"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	recs, err := l.FlowLog(context.Background(), "fw-1")
	if err != nil || len(recs) != 1 || recs[0].Dir != "original" || recs[0].Proto != 6 || !recs[0].Time.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("flow log: %+v, %v", recs, err)
	}
	if _, err := l.FlowLog(context.Background(), "../x"); err == nil {
		t.Fatal("a node name with a slash read")
	}
}
