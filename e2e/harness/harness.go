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

	"github.com/gwlb-lab/gwlb-lab/appliance"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
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

// StateDir is the lab's state directory.
func (l *Lab) StateDir() string { return filepath.Join("/run/gwlb-lab", l.Name) }

// FlowLog reads a reference appliance's flow log (empty if it has none
// yet): the rotated generation, then the current one, so a rotation keeps
// the latest records readable.
func (l *Lab) FlowLog(node string) []appliance.FlowRecord {
	out, err := appliance.ReadFlowLog(filepath.Join(l.StateDir(), "logs", node+".flows.jsonl"))
	Expect(err).NotTo(HaveOccurred())
	return out
}

// Flows returns the GWLB flows as `flows --json` prints them.
func (l *Lab) Flows() []api.Flow {
	r := Run(time.Minute, "flows", "--json", "--name", l.Name)
	Expect(r.Code).To(Equal(0), "flows: %s", r.Stderr)
	var out []api.Flow
	Expect(json.Unmarshal([]byte(r.Stdout), &out)).To(Succeed())
	return out
}

// Targets returns every target's health by target name, as `gwlb-lab
// targets --json` reports it (the last node's view when several check it).
func (l *Lab) Targets() map[string]api.TargetHealth {
	GinkgoHelper()
	r := Run(time.Minute, "targets", "--json", "--name", l.Name)
	Expect(r.Code).To(Equal(0), "targets: %s", r.Stderr)
	var list []api.TargetHealth
	Expect(json.Unmarshal([]byte(r.Stdout), &list)).To(Succeed())
	out := map[string]api.TargetHealth{}
	for _, t := range list {
		out[t.Target] = t
	}
	return out
}

// WaitTarget waits up to 30 s for target to reach state.
func (l *Lab) WaitTarget(target, state string) {
	GinkgoHelper()
	Eventually(func() string { return l.Targets()[target].State }, 30*time.Second, 100*time.Millisecond).
		Should(Equal(state), "target %s", target)
}

// GWLBDrops returns the drop counters of all GWLB nodes, summed.
func (l *Lab) GWLBDrops() map[string]uint64 {
	s := l.Status()
	Expect(s.Counters).NotTo(BeNil(), "the emulator is not answering: %+v", s.Emulator)
	sum := map[string]uint64{}
	for _, m := range s.Counters.GWLB {
		for k, v := range m.Drops {
			sum[k] += v
		}
	}
	return sum
}

// Curl fetches url from node, retrying while the path comes up, and
// returns the body.
func (l *Lab) Curl(node, url string) string {
	var out string
	Eventually(func() error {
		r := l.Exec(node, "curl", "-s", "--max-time", "3", url)
		if r.Code != 0 {
			return fmt.Errorf("curl %s from %s: exit %d %s", url, node, r.Code, r.Stderr)
		}
		out = r.Stdout
		return nil
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	return out
}

// Fails asserts that node cannot fetch url.
func (l *Lab) Fails(node, url string) {
	r := l.Exec(node, "curl", "-s", "--max-time", "2", url)
	Expect(r.Code).NotTo(Equal(0), "curl %s from %s answered: %s", url, node, r.Stdout)
}

// Ping pings addr from node until one answer comes back.
func (l *Lab) Ping(node, addr string, extra ...string) {
	args := append([]string{"ping", "-n", "-c", "1", "-W", "2"}, extra...)
	Eventually(func() int {
		return l.Exec(node, append(args, addr)...).Code
	}, 20*time.Second, 200*time.Millisecond).Should(Equal(0), "ping %s from %s", addr, node)
}

// ProbeUDP sends a UDP probe from node to addr and returns the echo.
func (l *Lab) ProbeUDP(node, addr string) string {
	return l.ProbeUDPMessage(node, addr, "probe")
}

// ProbeUDPMessage is ProbeUDP with the message to send.
func (l *Lab) ProbeUDPMessage(node, addr, msg string) string {
	r := l.Exec(node, Binary(), "probe", "--timeout", "10s", "--message", msg, addr)
	Expect(r.Code).To(Equal(0), "udp probe %s from %s: %s", addr, node, r.Stderr)
	return r.Stdout
}

// Variant writes a copy of a topology file with each old string replaced
// by its new one (each must occur), into a temporary directory.
func Variant(file string, replace ...string) string {
	b, err := os.ReadFile(file)
	Expect(err).NotTo(HaveOccurred())
	s := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		Expect(s).To(ContainSubstring(replace[i]), "variant of %s", file)
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	dir, err := os.MkdirTemp("", "gwlb-lab-variant-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	out := filepath.Join(dir, filepath.Base(file))
	Expect(os.WriteFile(out, []byte(s), 0o644)).To(Succeed())
	return out
}
