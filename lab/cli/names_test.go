package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/gwlb-lab/gwlb-lab/scenarios"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// sandbox is a state root and a namespace directory of its own, so that
// commands run here see only the labs a test records.
type sandbox struct {
	dir  string // parent of both; dir/canary is "../../canary" from the root
	env  Env
	root string
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	dir := t.TempDir()
	s := &sandbox{dir: dir, root: filepath.Join(dir, "state", "root")}
	s.env = Env{Stdin: strings.NewReader(""), Version: "1.2.3", StateRoot: s.root, NetnsDir: filepath.Join(dir, "netns")}
	for _, d := range []string{s.root, s.env.NetnsDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *sandbox) run(args ...string) (string, string, int) {
	var out, errb bytes.Buffer
	env := s.env
	env.Args, env.Stdout, env.Stderr = args, &out, &errb
	code := Main(context.Background(), env)
	return out.String(), errb.String(), code
}

// record makes lab name look up: a state file and the resolved default lab.
func (s *sandbox) record(t *testing.T, name string) {
	t.Helper()
	f, err := topology.Parse(scenarios.Default(), "default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l, err := topology.Resolve(f, name)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(s.root, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	st := lab.State{Lab: name, Prefix: l.Prefix, Phase: lab.PhaseUp}
	for _, n := range l.Nodes {
		st.Namespaces = append(st.Namespaces, n.Netns)
	}
	for file, v := range map[string]any{"state.json": st, "resolved.json": l} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: the command checks for root before it looks for the lab")
	}
}

// nameCommands are the commands that take --name, with the arguments each
// needs besides it; TestEveryNameCommandIsChecked keeps the list complete.
var nameCommands = map[string][]string{
	"up":                            {"up"},
	"down":                          {"down"},
	"status":                        {"status"},
	"nodes":                         {"nodes"},
	"inspect":                       {"inspect", "web"},
	"exec":                          {"exec", "web", "--", "true"},
	"flows":                         {"flows"},
	"endpoints":                     {"endpoints"},
	"tgw":                           {"tgw"},
	"asg describe":                  {"asg", "describe"},
	"asg set-desired":               {"asg", "set-desired", "fw", "2"},
	"asg complete-lifecycle-action": {"asg", "complete-lifecycle-action", "fw", "fw-1", "--hook", "h", "--result", "CONTINUE"},
	"endpoints accept":              {"endpoints", "accept", "gwlbe-1"},
	"targets":                       {"targets"},
	"targets deregister":            {"targets", "deregister", "fw-1"},
	"targets register":              {"targets", "register", "fw-1"},
	"capture":                       {"capture", "web", "-w", "CAPTURE", "-c", "1"},
	"logs":                          {"logs", "web"},
	"trace":                         {"trace", "-c", "1"},
	"events":                        {"events"},
	"emulator restart":              {"emulator", "restart"},
	"node stop":                     {"node", "stop", "web"},
	"node start":                    {"node", "start", "web"},
	"node restart":                  {"node", "restart", "web"},
	"node pause":                    {"node", "pause", "web"},
	"node unpause":                  {"node", "unpause", "web"},
	"node add":                      {"node", "add", "fw-3", "--subnet", "appliances", "--like", "fw-1"},
	"node remove":                   {"node", "remove", "fw-3"},
	"link set":                      {"link", "set", "web", "--loss", "5"},
	"link clear":                    {"link", "clear", "web"},
	"link show":                     {"link", "show"},
	"route add":                     {"route", "add", "--table", "app", "192.0.2.0/24", "blackhole"},
	"route replace":                 {"route", "replace", "--table", "app", "0.0.0.0/0", "igw-consumer"},
	"route delete":                  {"route", "delete", "--table", "app", "0.0.0.0/0"},
	"route show":                    {"route", "show"},
	"targets fail-health":           {"targets", "fail-health", "fw-1"},
	"targets clear-health":          {"targets", "clear-health", "fw-1"},
	"scenario run":                  {"scenario", "run", "FILE"},
}

func nameFlag(c *cobra.Command) *pflag.Flag {
	for _, fs := range []*pflag.FlagSet{c.Flags(), c.PersistentFlags(), c.InheritedFlags()} {
		if f := fs.Lookup("name"); f != nil {
			return f
		}
	}
	return nil
}

// commandsWithName walks the command tree for every command with a --name
// flag of its own or inherited.
func commandsWithName(root *cobra.Command) []string {
	var out []string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if nameFlag(c) != nil {
			out = append(out, strings.TrimPrefix(c.CommandPath(), root.Name()+" "))
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	sort.Strings(out)
	return out
}

func TestEveryNameCommandIsChecked(t *testing.T) {
	got := commandsWithName(NewRoot(Env{}))
	var want []string
	for c := range nameCommands {
		want = append(want, c)
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("commands with --name %v, tested %v: add the new ones to nameCommands", got, want)
	}
}

// Every command refuses a lab name that is not one with the error `up`
// gives, before it touches a path: "../../canary" from the state root is a
// directory that must survive, and capture must not create its file.
func TestInvalidNameRefusedByEveryCommand(t *testing.T) {
	s := newSandbox(t)
	s.record(t, "default")
	canary := filepath.Join(s.dir, "canary", "keep")
	if err := os.MkdirAll(canary, 0o700); err != nil {
		t.Fatal(err)
	}
	capture := filepath.Join(s.dir, "out.pcap")
	for _, bad := range []string{"../../canary", ".", "..", "", "a/b", "/", "Lab", "-x", "thirteen-char"} {
		want := topology.ValidateLabName(bad).Error()
		for what, args := range nameCommands {
			args = slices.Clone(args)
			for i, a := range args {
				if a == "CAPTURE" {
					args[i] = capture
				}
			}
			// --name goes right after the command words, before NODE
			// and "--" (exec's own flags end at NODE).
			words := len(strings.Fields(what))
			full := append(append(slices.Clone(args[:words]), "--name", bad), args[words:]...)
			_, errOut, code := s.run(full...)
			if code != 1 || errOut != "gwlb-lab: "+want+"\n" {
				t.Errorf("%s --name %q: exit %d, stderr %q; want exit 1 and %q", what, bad, code, errOut, want)
			}
		}
	}
	if _, err := os.Stat(canary); err != nil {
		t.Fatalf("the canary outside the state root is gone: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.root, "default", "state.json")); err != nil {
		t.Fatalf("the recorded lab is gone: %v", err)
	}
	if _, err := os.Stat(capture); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("capture created its file for an invalid lab: %v", err)
	}
}

func TestNoSuchLab(t *testing.T) {
	requireRoot(t)
	s := newSandbox(t)
	_, errOut, code := s.run("down", "--name", "a9-fw")
	if code != ExitNoLab || errOut != "gwlb-lab: no lab named \"a9-fw\" is up (no lab is up)\n" {
		t.Fatalf("down of a lab when none is up: exit %d, stderr %q", code, errOut)
	}
	s.record(t, "a9")
	s.record(t, "b")
	out, errOut, code := s.run("down", "--name", "a9-fw")
	if code != ExitNoLab || out != "" || errOut != "gwlb-lab: no lab named \"a9-fw\" is up (labs up: a9, b)\n" {
		t.Fatalf("down of a typo: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, args := range [][]string{{"status", "--name", "zz"}, {"flows", "--name", "zz"}, {"logs", "--name", "zz", "emulator"}, {"exec", "--name", "zz", "web", "--", "true"}} {
		_, errOut, code := s.run(args...)
		if code != ExitNoLab || errOut != "gwlb-lab: no lab named \"zz\" is up (labs up: a9, b)\n" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(s.root, "a9", "state.json")); err != nil {
		t.Fatalf("lab a9 lost its state: %v", err)
	}
}

// A command that names no lab says which lab it picked, unless that is the
// default lab; with none up it says so.
func TestOnlyLabIsNamed(t *testing.T) {
	requireRoot(t)
	s := newSandbox(t)
	if _, errOut, code := s.run("inspect"); code != ExitNoLab || errOut != "gwlb-lab: no lab is up (bring one up with gwlb-lab up)\n" {
		t.Fatalf("inspect with no lab: exit %d, stderr %q", code, errOut)
	}
	s.record(t, "mine")
	out, errOut, code := s.run("inspect", "web")
	if code != 0 || errOut != "gwlb-lab: using lab mine, the only lab that is up (--name picks one)\n" || !strings.Contains(out, `"gwlb-mine-web"`) {
		t.Fatalf("inspect: exit %d, stderr %q, stdout %q", code, errOut, out)
	}
	if out, errOut, code := s.run("inspect", "nope"); code != 1 || errOut != "gwlb-lab: using lab mine, the only lab that is up (--name picks one)\ngwlb-lab: lab \"mine\" has no node \"nope\"\n" {
		t.Fatalf("inspect nope: exit %d, stderr %q, stdout %q", code, errOut, out)
	}

	d := newSandbox(t)
	d.record(t, "default")
	if _, errOut, code := d.run("inspect", "web"); code != 0 || errOut != "" {
		t.Fatalf("inspect of the default lab: exit %d, stderr %q", code, errOut)
	}
}

func TestNameFlagHelpGivesTheLimit(t *testing.T) {
	root := NewRoot(Env{})
	for _, path := range commandsWithName(root) {
		c, _, err := root.Find(strings.Fields(path))
		if err != nil {
			t.Fatal(err)
		}
		if f := nameFlag(c); !strings.Contains(f.Usage, "1 to 12 lowercase letters, digits and hyphens") {
			t.Errorf("%s --name: %q does not say what a lab name may be", path, f.Usage)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	cmdOut, _, code := run(t, "version")
	if code != 0 {
		t.Fatalf("version: exit %d", code)
	}
	for _, flag := range []string{"--version", "-v"} {
		out, errOut, code := run(t, flag)
		if code != 0 || out != cmdOut || errOut != "" {
			t.Fatalf("%s: exit %d, stdout %q (version says %q), stderr %q", flag, code, out, cmdOut, errOut)
		}
	}
}

// cannotRun gives a shell's statuses for what starting a program really
// returns.
func TestCannotRunStatuses(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "script")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func(argv0 string) error { return exec.Command(argv0).Start() }
	for _, tt := range []struct {
		name string
		err  error
		code int
		ok   bool
	}{
		{"not in PATH", start("gwlb-lab-no-such-program"), ExitNotFound, true},
		{"no such path", start(filepath.Join(dir, "missing")), ExitNotFound, true},
		{"not executable", start(notExec), ExitNotExecutable, true},
		{"a directory", start(dir), ExitNotExecutable, true},
		{"a lab error", lab.ErrNoLab, 0, false},
		{"a missing file elsewhere", &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}, 0, false},
	} {
		code, ok := cannotRun(tt.err)
		if code != tt.code || ok != tt.ok {
			t.Errorf("%s (%v): %d %v, want %d %v", tt.name, tt.err, code, ok, tt.code, tt.ok)
		}
	}
}

// logs builds a path from its NODE argument: only a node of the lab may get
// there, whatever the state directory holds.
func TestLogsOnlyOfTheLabsNodes(t *testing.T) {
	requireRoot(t)
	s := newSandbox(t)
	s.record(t, "mine")
	secret := filepath.Join(s.root, "secret.log")
	if err := os.WriteFile(secret, []byte("not a node's log\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// NodeLog is <root>/mine/logs/<node>.log.
	out, errOut, code := s.run("logs", "--name", "mine", "../../secret")
	if code != 1 || out != "" || errOut != "gwlb-lab: lab \"mine\" has no node \"../../secret\" (or say emulator)\n" {
		t.Fatalf("logs ../../secret: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Without the resolved topology there is no node to be sure of.
	if err := os.Remove(filepath.Join(s.root, "mine", "resolved.json")); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = s.run("logs", "--name", "mine", "../../secret")
	if code == 0 || strings.Contains(out, "not a node's log") {
		t.Fatalf("logs ../../secret without resolved.json: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
