// Package harness runs gwlb-lab for the e2e suites: it builds (or finds) the
// binary, brings labs up under random names and removes them afterwards,
// whatever happened in between.
package harness

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// RequireRoot skips the current spec when not root.
func RequireRoot() {
	if os.Geteuid() != 0 {
		Skip("needs root: the lab creates network namespaces and TAP devices (CI runs as root)")
	}
}

// Binary returns the gwlb-lab binary: $GWLB_LAB_BIN if set, else one built
// once per test process into a temporary directory.
func Binary() string {
	if p := os.Getenv("GWLB_LAB_BIN"); p != "" {
		return p
	}
	p, err := buildBinary()
	Expect(err).NotTo(HaveOccurred())
	return p
}

var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "gwlb-lab-e2e-")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "gwlb-lab")
	cmd := exec.Command("go", "build", "-o", p, "./cmd/gwlb-lab")
	cmd.Dir = RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return p, nil
})

// RepoRoot is the module's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// RandomName returns a lab name no other run uses: "t" and 6 random
// lowercase letters and digits.
func RandomName() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return "t" + string(b)
}

// Result is a finished command.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Run runs the binary with args and returns what it printed and its exit
// code; it fails the spec only if the binary could not run at all.
func Run(timeout time.Duration, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else {
		Expect(err).NotTo(HaveOccurred(), "run gwlb-lab %s", strings.Join(args, " "))
	}
	return r
}

// Lab is a lab brought up by a spec.
type Lab struct {
	Name string
}

// Up brings up the topology file (relative to the calling suite's
// directory, or absolute) under a random name, and registers its removal.
func Up(file string, extra ...string) *Lab {
	RequireRoot()
	l := &Lab{Name: RandomName()}
	DeferCleanup(func() {
		r := Run(2*time.Minute, "down", "--name", l.Name)
		Expect(r.Code).To(Equal(0), "down: %s%s", r.Stdout, r.Stderr)
	})
	args := append([]string{"up", "-f", file, "--name", l.Name}, extra...)
	r := Run(3*time.Minute, args...)
	Expect(r.Code).To(Equal(0), "up failed:\n%s%s", r.Stdout, r.Stderr)
	return l
}

// Exec runs argv in node and returns the result.
func (l *Lab) Exec(node string, argv ...string) Result {
	return Run(time.Minute, append([]string{"exec", "--name", l.Name, node, "--"}, argv...)...)
}

// Status returns the lab's status as `status --json` prints it.
func (l *Lab) Status() *lab.Status {
	r := Run(time.Minute, "status", "--json", "--name", l.Name)
	Expect(r.Code).To(Equal(0), "status: %s", r.Stderr)
	var s lab.Status
	Expect(json.Unmarshal([]byte(r.Stdout), &s)).To(Succeed())
	return &s
}

// Drops returns the emulator's drop counters.
func (l *Lab) Drops() map[string]uint64 {
	s := l.Status()
	Expect(s.Counters).NotTo(BeNil(), "the emulator is not answering: %+v", s.Emulator)
	return s.Counters.Drops
}

// PortCounters returns one node port's counters.
func (l *Lab) PortCounters(node string) (rx, tx uint64) {
	s := l.Status()
	Expect(s.Counters).NotTo(BeNil())
	for _, p := range s.Counters.Ports {
		if p.Node == node {
			return p.RxPkts, p.TxPkts
		}
	}
	Fail("no port counters for node " + node)
	return 0, 0
}
