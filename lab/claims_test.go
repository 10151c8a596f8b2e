package lab

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// testManager returns a manager whose state root and namespace directory are
// temporary; the namespace directory holds plain files, which is all that
// the sweep and the claim look at (they list names).
func testManager(t *testing.T) (*Manager, string) {
	t.Helper()
	dir := t.TempDir()
	m, err := NewManager(Options{StateRoot: filepath.Join(dir, "state", "root"), NetnsDir: filepath.Join(dir, "netns"), Binary: "/bin/false"})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{m.opts.StateRoot, m.opts.NetnsDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return m, dir
}

// fakeNamespaces makes namespace names exist, as far as List can tell.
func fakeNamespaces(t *testing.T, m *Manager, names ...string) {
	t.Helper()
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(m.opts.NetnsDir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// recordLab writes a lab's state file as `up` does.
func recordLab(t *testing.T, m *Manager, name string, namespaces ...string) {
	t.Helper()
	p, err := m.Paths(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeState(p, &State{Lab: name, Prefix: topology.ResourcePrefix(name), Phase: PhaseUp, Namespaces: namespaces}); err != nil {
		t.Fatal(err)
	}
}

const twoNodes = `
vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets:
      s: {az: az1, cidr: 10.0.1.0/24}
    route_tables:
      main: {}
    instances:
      NODE1: {subnet: s, private_ip: 10.0.1.10}
      NODE2: {subnet: s, private_ip: 10.0.1.11}
`

func resolveTwo(t *testing.T, lab, node1, node2 string) *topology.Lab {
	t.Helper()
	src := strings.NewReplacer("NODE1", `"`+node1+`"`, "NODE2", `"`+node2+`"`).Replace(twoNodes)
	f, err := topology.Parse([]byte(src), "two.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l, err := topology.Resolve(f, lab)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// Every entry point that builds a path from a lab name refuses a name that
// could leave the state root, and leaves what is outside it alone.
func TestInvalidLabNamesTouchNothing(t *testing.T) {
	m, dir := testManager(t)
	// state/root/../../canary is dir/canary.
	canary := filepath.Join(dir, "canary")
	if err := os.MkdirAll(filepath.Join(canary, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	recordLab(t, m, "other", "gwlb-other-web")
	ctx := context.Background()
	good := resolveTwo(t, "good", "web", "db")
	for _, name := range []string{"", ".", "..", "../../canary", "../..", "/", "a/b", "/tmp", "Upper", "-a", "a-", "a_b", "abcdefghijklm", "a b", "a\x00"} {
		checks := map[string]error{
			"Down": m.Down(ctx, name),
			"Up": func() error {
				l := *good
				l.Name = name
				return m.Up(ctx, &l, "two.yaml", false)
			}(),
		}
		_, checks["Paths"] = m.Paths(name)
		_, checks["Status"] = m.Status(ctx, name)
		_, checks["Control"] = m.Control(name)
		_, checks["Resolved"] = m.Resolved(name)
		_, checks["Exec"] = m.Exec(ctx, name, "web", []string{"true"}, nil, nil, nil)
		for what, err := range checks {
			if !errors.Is(err, topology.ErrLabName) {
				t.Errorf("%s(%q) = %v, want an invalid lab name error", what, name, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(canary, "inside")); err != nil {
		t.Fatalf("the directory outside the state root was touched: %v", err)
	}
	if labs, _ := m.List(); !slices.Equal(labs, []string{"other"}) {
		t.Fatalf("labs now %v, want [other]", labs)
	}
}

func TestSweepLeavesOtherLabsNamespaces(t *testing.T) {
	ctx := context.Background()
	sweep := func(m *Manager, name string) []string {
		t.Helper()
		p, _ := m.Paths(name)
		st, _ := readState(p)
		got, err := m.sweepNamespaces(ctx, name, st, p)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("a lab that does not exist, under a live lab's prefix", func(t *testing.T) {
		m, _ := testManager(t)
		recordLab(t, m, "a9", "gwlb-a9-fw-1", "gwlb-a9-fw-2")
		fakeNamespaces(t, m, "gwlb-a9-fw-1", "gwlb-a9-fw-2", "gwlb-a9-fw-x")
		// gwlb-a9-fw-x is no node of a9 (its records are complete), so it
		// can only be left from a lab a9-fw.
		if got := sweep(m, "a9-fw"); !slices.Equal(got, []string{"gwlb-a9-fw-x"}) {
			t.Fatalf("down a9-fw would remove %v", got)
		}
	})
	t.Run("a lab whose own records name another lab's namespace", func(t *testing.T) {
		m, _ := testManager(t)
		recordLab(t, m, "a9", "gwlb-a9-fw-1")
		recordLab(t, m, "a9-fw", "gwlb-a9-fw-1", "gwlb-a9-fw-2")
		fakeNamespaces(t, m, "gwlb-a9-fw-1", "gwlb-a9-fw-2")
		if got := sweep(m, "a9-fw"); !slices.Equal(got, []string{"gwlb-a9-fw-2"}) {
			t.Fatalf("down a9-fw would remove %v", got)
		}
	})
	t.Run("another lab whose records cannot be read", func(t *testing.T) {
		m, _ := testManager(t)
		recordLab(t, m, "a9")
		p, _ := m.Paths("a9")
		if err := os.WriteFile(p.State(), []byte(`{"lab": "a9", "namesp`), 0o600); err != nil {
			t.Fatal(err)
		}
		fakeNamespaces(t, m, "gwlb-a9-fw-1", "gwlb-a9-web")
		if got := sweep(m, "a9-fw"); len(got) != 0 {
			t.Fatalf("down a9-fw would remove %v, which may be lab a9's", got)
		}
		if got := sweep(m, "a9"); !slices.Equal(got, []string{"gwlb-a9-fw-1", "gwlb-a9-web"}) {
			t.Fatalf("down a9 would remove %v", got)
		}
	})
	t.Run("a shorter lab name never sweeps a longer lab's prefix", func(t *testing.T) {
		m, _ := testManager(t)
		recordLab(t, m, "a-b", "gwlb-a-b-1")
		fakeNamespaces(t, m, "gwlb-a-b-1", "gwlb-a-b-zz", "gwlb-a-web", "gwlb-ab-web")
		if got := sweep(m, "a"); !slices.Equal(got, []string{"gwlb-a-web"}) {
			t.Fatalf("down a would remove %v", got)
		}
	})
}

func TestClaim(t *testing.T) {
	ctx := context.Background()
	claim := func(m *Manager, l *topology.Lab) error {
		p, err := m.Paths(l.Name)
		if err != nil {
			t.Fatal(err)
		}
		st := &State{Lab: l.Name, Prefix: l.Prefix, Phase: PhaseCreating}
		for _, n := range l.Nodes {
			st.Namespaces = append(st.Namespaces, n.Netns)
		}
		return m.claim(ctx, l, p, st)
	}

	t.Run("a namespace another lab records", func(t *testing.T) {
		m, _ := testManager(t)
		if err := claim(m, resolveTwo(t, "a9", "fw-1", "fw-2")); err != nil {
			t.Fatal(err)
		}
		err := claim(m, resolveTwo(t, "a9-fw", "1", "3"))
		if !errors.Is(err, ErrNameTaken) || !strings.Contains(err.Error(), `belongs to lab "a9"`) {
			t.Fatalf("claim of a9-fw: %v", err)
		}
		if labs, _ := m.List(); !slices.Equal(labs, []string{"a9"}) {
			t.Fatalf("labs %v after a refused claim", labs)
		}
	})
	t.Run("a namespace left from an earlier run", func(t *testing.T) {
		m, _ := testManager(t)
		fakeNamespaces(t, m, "gwlb-c-web")
		err := claim(m, resolveTwo(t, "c", "web", "db"))
		if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "left from an earlier run (gwlb-lab down --name c removes it)") {
			t.Fatalf("claim over a leftover: %v", err)
		}
	})
	t.Run("a leftover that may be another lab's is not called ours", func(t *testing.T) {
		m, _ := testManager(t)
		recordLab(t, m, "c-x", "gwlb-c-x-1")
		fakeNamespaces(t, m, "gwlb-c-x-web")
		err := claim(m, resolveTwo(t, "c", "x-web", "db"))
		if !errors.Is(err, ErrNameTaken) || strings.Contains(err.Error(), "down --name c") {
			t.Fatalf("claim: %v", err)
		}
	})
	t.Run("two claims of one name at once: exactly one wins", func(t *testing.T) {
		m, _ := testManager(t)
		l := resolveTwo(t, "race", "web", "db")
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = claim(m, l)
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrExists):
				t.Errorf("loser: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d claims won: %v", won, errs)
		}
	})
}
