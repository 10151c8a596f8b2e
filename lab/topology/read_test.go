package topology_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// wideBomb is a small file whose aliases multiply: vpcs of route tables of
// routes, each level `fan` aliases of the level below, fan^3 routes in all
// (a billion for fan 1000) from a file of a few kilobytes per thousand.
func wideBomb(fan int) string {
	var b strings.Builder
	b.WriteString("x-route: &r {destination: 0.0.0.0/0, target: local}\n")
	b.WriteString("x-table: &t\n  routes: [")
	for i := range fan {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("*r")
	}
	b.WriteString("]\nx-vpc: &v\n  cidr: 10.0.0.0/16\n  route_tables:\n")
	for i := range fan {
		fmt.Fprintf(&b, "    t%d: *t\n", i)
	}
	b.WriteString("vpcs:\n")
	for i := range fan {
		fmt.Fprintf(&b, "  v%d: *v\n", i)
	}
	return b.String()
}

// mergeBomb nests merge keys: each level merges the level below nine times,
// so that a walk that expands merges does 9^levels steps for a result of
// one key.
func mergeBomb(levels int) string {
	var b strings.Builder
	b.WriteString("vpcs:\n  v:\n    cidr: 10.0.0.0/16\n    route_tables:\n      m0: &m0 {edge_association: igw}\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "      m%d: &m%d {<<: [", i, i)
		for j := range 9 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*m%d", i-1)
		}
		b.WriteString("]}\n")
	}
	return b.String()
}

// TestAliasBombs: documents that expand to billions of values through
// aliases or merge keys are refused with an error naming the limit, after a
// bounded walk (were the walk unbounded, these tests would exhaust the
// machine rather than fail politely).
func TestAliasBombs(t *testing.T) {
	for name, src := range map[string]string{
		"aliases":    wideBomb(1000),
		"merge keys": mergeBomb(30),
	} {
		t.Run(name, func(t *testing.T) {
			if len(src) > 100<<10 {
				t.Fatalf("the bomb is %d bytes; it is meant to be small", len(src))
			}
			_, err := topology.Parse([]byte(src), "bomb.yaml")
			var ds topology.Diagnostics
			if !errors.As(err, &ds) {
				t.Fatalf("Parse: %v, want diagnostics", err)
			}
			want := fmt.Sprintf("expands to more than %d values (counting every repetition by an alias", topology.MaxValues)
			n := 0
			for _, d := range ds {
				if strings.Contains(d.Message, want) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("diagnostics %v, want one saying %q", ds, want)
			}
		})
	}
}

// TestAliasesWithinBudget: aliases and merge keys as people use them (a
// VPC copied with changes, a shared route) still work.
func TestAliasesWithinBudget(t *testing.T) {
	src := `
vpcs:
  a: &vpc
    cidr: 10.0.0.0/16
    subnets: {s: {az: az1, cidr: 10.0.1.0/24, route_table: main}}
    route_tables: {main: {routes: [&r {destination: 192.0.2.0/24, target: blackhole}]}}
  b:
    <<: *vpc
    cidr: 10.1.0.0/16
    subnets: {s: {az: az1, cidr: 10.1.1.0/24, route_table: main}}
    route_tables: {main: {routes: [*r]}}
`
	f, err := topology.Parse([]byte(src), "aliases.yaml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if errs := topology.Validate(f).Errors(); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	if got := f.Topology.VPCs["b"].RouteTables["main"].Routes; len(got) != 1 || got[0].Target != "blackhole" {
		t.Fatalf("vpc b routes %+v", got)
	}
}

func TestReadFileTooLarge(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(big, []byte(strings.Repeat("# a comment line\n", topology.MaxFileSize/17+1)), 0o600); err != nil {
		t.Fatal(err)
	}
	exact := filepath.Join(t.TempDir(), "exact.yaml")
	if err := os.WriteFile(exact, []byte(strings.Repeat("#", topology.MaxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path    string
		tooBig  bool
		wantMsg string
	}{
		{big, true, "the file is larger than 4 MiB, the most a topology file may hold"},
		{"/dev/zero", true, "the file is larger than 4 MiB"},
		{exact, false, ""},
	} {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			data, err := topology.ReadFile(context.Background(), tt.path)
			if !tt.tooBig {
				if err != nil || len(data) != topology.MaxFileSize {
					t.Fatalf("ReadFile: %d bytes, %v; want %d bytes", len(data), err, topology.MaxFileSize)
				}
				return
			}
			if !errors.Is(err, topology.ErrFileTooLarge) || !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), tt.path) {
				t.Fatalf("ReadFile: %v, want %q naming %s", err, tt.wantMsg, tt.path)
			}
		})
	}
	if _, err := topology.Parse(make([]byte, topology.MaxFileSize+1), "big"); !errors.Is(err, topology.ErrFileTooLarge) {
		t.Fatalf("Parse of an oversized buffer: %v", err)
	}
}

// blockingReader blocks until released, like a terminal nobody types into.
type blockingReader struct{ release chan struct{} }

func (r blockingReader) Read([]byte) (int, error) {
	<-r.release
	return 0, errors.New("released")
}

// TestCancelledContext: a read that blocks (standard input, a named pipe)
// and a parse both return when the command's context ends (SIGINT).
func TestCancelledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := blockingReader{release: make(chan struct{})}
	defer close(r.release)
	errc := make(chan error, 1)
	go func() {
		_, err := topology.ReadAll(ctx, r)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadAll after cancel: %v", err)
	}

	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := mkfifo(fifo); err != nil {
		t.Skipf("no named pipe: %v", err)
	}
	if _, err := topology.ReadFile(ctx, fifo); !errors.Is(err, context.Canceled) {
		t.Fatalf("ReadFile of a pipe nobody writes after cancel: %v", err)
	}

	// A parse that would take long (the merge bomb's walk up to its
	// budget) returns the context's error, not a result.
	if _, err := topology.ParseContext(ctx, []byte(mergeBomb(30)), "bomb.yaml"); !errors.Is(err, context.Canceled) {
		t.Fatalf("ParseContext after cancel: %v", err)
	}
	if _, err := topology.LoadContext(ctx, "testdata/warn/lab-timings.yaml"); !errors.Is(err, context.Canceled) {
		t.Fatalf("LoadContext after cancel: %v", err)
	}
}
