package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/gwlblab"
	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
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

// RandomName returns a lab name no other run uses (gwlblab.RandomName).
func RandomName() string { return gwlblab.RandomName() }

// Result is a finished command.
type Result = gwlblab.Result

// Run runs the binary with args and returns what it printed and its exit
// code; it fails the spec only if the binary could not run at all.
func Run(timeout time.Duration, args ...string) Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Args: append([]string{"gwlb-lab"}, args...), Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else {
		Expect(err).NotTo(HaveOccurred(), "run gwlb-lab %s", strings.Join(args, " "))
	}
	return r
}

// Lab is a lab brought up by a spec: a Ginkgo layer over gwlblab.Lab that
// fails the spec on errors. A Lab made as &Lab{Name: n} opens the lab n on
// first use.
type Lab struct {
	Name string
	g    *gwlblab.Lab
}

// G is the gwlblab lab underneath, for what the harness does not wrap.
func (l *Lab) G() *gwlblab.Lab {
	GinkgoHelper()
	if l.g == nil {
		g, err := with(time.Minute, func(c context.Context) (*gwlblab.Lab, error) {
			return gwlblab.Open(c, gwlblab.Options{Name: l.Name, Bin: Binary()})
		})
		Expect(err).NotTo(HaveOccurred(), "open lab %s", l.Name)
		l.g = g
	}
	return l.g
}

// with runs fn with a context that ends after d.
func with[T any](d time.Duration, fn func(context.Context) (T, error)) (T, error) {
	c, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return fn(c)
}

// commandOutput is the whole output of a failed command, for failure
// messages.
func commandOutput(err error) string {
	var ce *gwlblab.CommandError
	if errors.As(err, &ce) {
		return ce.Stdout + ce.Stderr
	}
	return ""
}

// Up brings up the topology file (relative to the calling suite's
// directory, or absolute) under a random name, and registers its removal.
// extra are more arguments of up (--no-wait).
func Up(file string, extra ...string) *Lab {
	GinkgoHelper()
	RequireRoot()
	l := &Lab{Name: RandomName()}
	DeferCleanup(func() {
		r := Run(2*time.Minute, "down", "--name", l.Name)
		Expect(r.Code).To(Equal(0), "down: %s%s", r.Stdout, r.Stderr)
	})
	opts := gwlblab.Options{File: file, Name: l.Name, Bin: Binary()}
	for _, a := range extra {
		if a == "--no-wait" {
			opts.NoWait = true
		} else {
			opts.UpArgs = append(opts.UpArgs, a)
		}
	}
	g, err := with(3*time.Minute, func(c context.Context) (*gwlblab.Lab, error) { return gwlblab.Up(c, opts) })
	Expect(err).NotTo(HaveOccurred(), "up failed:\n%s", commandOutput(err))
	l.g = g
	return l
}

// Exec runs argv in node and returns the result.
func (l *Lab) Exec(node string, argv ...string) Result {
	GinkgoHelper()
	r, err := with(time.Minute, func(c context.Context) (Result, error) { return l.G().Exec(c, node, argv...) })
	Expect(err).NotTo(HaveOccurred(), "exec in %s: %v", node, argv)
	return r
}

// Status returns the lab's status as `status --json` prints it.
func (l *Lab) Status() *lab.Status {
	GinkgoHelper()
	s, err := with(time.Minute, l.G().Status)
	Expect(err).NotTo(HaveOccurred(), "status")
	return s
}

// Counters returns the emulator's counters.
func (l *Lab) Counters() api.Counters {
	GinkgoHelper()
	c, err := with(time.Minute, l.G().Counters)
	Expect(err).NotTo(HaveOccurred(), "the emulator's counters")
	return c
}

// Drops returns the emulator's drop counters.
func (l *Lab) Drops() map[string]uint64 {
	GinkgoHelper()
	return l.Counters().Drops
}

// PortCounters returns one node port's counters.
func (l *Lab) PortCounters(node string) (rx, tx uint64) {
	GinkgoHelper()
	p, ok := l.Counters().Port(node)
	Expect(ok).To(BeTrue(), "no port counters for node %s", node)
	return p.RxPkts, p.TxPkts
}

// StateDir is the lab's state directory.
func (l *Lab) StateDir() string { return filepath.Join(lab.DefaultStateRoot, l.Name) }

// FlowLog reads a reference appliance's flow log (empty if it has none
// yet): the rotated generation, then the current one, so a rotation keeps
// the latest records readable.
func (l *Lab) FlowLog(node string) []labapi.FlowRecord {
	GinkgoHelper()
	out, err := with(time.Minute, func(c context.Context) ([]labapi.FlowRecord, error) { return l.G().FlowLog(c, node) })
	Expect(err).NotTo(HaveOccurred())
	return out
}

// Flows returns every GWLB flow.
func (l *Lab) Flows() []api.Flow {
	GinkgoHelper()
	out, err := with(time.Minute, func(c context.Context) ([]api.Flow, error) { return l.G().Flows(c, api.FlowFilter{}) })
	Expect(err).NotTo(HaveOccurred(), "flows")
	return out
}

// Targets returns every target's health by target name (the last node's
// view when several check it).
func (l *Lab) Targets() map[string]api.TargetHealth {
	GinkgoHelper()
	list, err := with(time.Minute, l.G().Targets)
	Expect(err).NotTo(HaveOccurred(), "targets")
	out := map[string]api.TargetHealth{}
	for _, t := range list {
		out[t.Target] = t
	}
	return out
}

// WaitTarget waits up to 30 s for target to reach state on every GWLB node
// that checks it.
func (l *Lab) WaitTarget(target, state string) {
	GinkgoHelper()
	g := l.G()
	_, err := with(30*time.Second, func(c context.Context) (struct{}, error) { return struct{}{}, g.WaitTarget(c, target, state) })
	Expect(err).NotTo(HaveOccurred())
}

// GWLBDrops returns the drop counters of all GWLB nodes, summed.
func (l *Lab) GWLBDrops() map[string]uint64 {
	GinkgoHelper()
	return l.Counters().GWLBDrops()
}

// Curl fetches url from node, retrying while the path comes up, and
// returns the body.
func (l *Lab) Curl(node, url string) string {
	GinkgoHelper()
	var out string
	Eventually(func() (err error) {
		out, err = with(time.Minute, func(c context.Context) (string, error) { return l.G().Curl(c, node, url) })
		return err
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	return out
}

// Fails asserts that node cannot fetch url.
func (l *Lab) Fails(node, url string) {
	GinkgoHelper()
	out, err := with(time.Minute, func(c context.Context) (string, error) { return l.G().Curl(c, node, url, "--max-time", "2") })
	var te *gwlblab.TrafficError
	Expect(errors.As(err, &te)).To(BeTrue(), "curl %s from %s answered: %s (%v)", url, node, out, err)
}

// Ping pings addr from node until one answer comes back.
func (l *Lab) Ping(node, addr string, extra ...string) {
	GinkgoHelper()
	Eventually(func() error {
		_, err := with(time.Minute, func(c context.Context) (struct{}, error) { return struct{}{}, l.G().Ping(c, node, addr, extra...) })
		return err
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed(), "ping %s from %s", addr, node)
}

// ProbeUDP sends a UDP probe from node to addr (host:port) and returns the
// echo.
func (l *Lab) ProbeUDP(node, addr string) string {
	GinkgoHelper()
	return l.ProbeUDPMessage(node, addr, "probe")
}

// ProbeUDPMessage is ProbeUDP with the message to send.
func (l *Lab) ProbeUDPMessage(node, addr, msg string) string {
	GinkgoHelper()
	host, port, err := net.SplitHostPort(addr)
	Expect(err).NotTo(HaveOccurred())
	p, err := strconv.Atoi(port)
	Expect(err).NotTo(HaveOccurred())
	out, err := with(time.Minute, func(c context.Context) (string, error) { return l.G().UDP(c, node, host, p, msg) })
	Expect(err).NotTo(HaveOccurred(), "udp probe %s from %s", addr, node)
	return out
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

// TraceWhile returns the emulator's traces of the packets to or from host
// while do runs (and until they stop coming, see gwlblab.Lab.Trace).
func (l *Lab) TraceWhile(host string, do func()) []api.Trace {
	GinkgoHelper()
	ts, err := with(time.Minute, func(c context.Context) ([]api.Trace, error) {
		return l.G().Trace(c, gwlblab.TraceFilter{Hosts: []string{host}}, func() error { do(); return nil })
	})
	Expect(err).NotTo(HaveOccurred(), "trace %s in lab %s", host, l.Name)
	return ts
}

// NewFlowTargets opens n connections from client to web's public address
// (the default lab's) and returns how many of them landed on each target.
func (l *Lab) NewFlowTargets(n int) map[string]int {
	GinkgoHelper()
	before := map[string]bool{}
	for _, f := range l.Flows() {
		before[f.Src] = true
	}
	r := l.Exec("client", "sh", "-c", fmt.Sprintf("for i in $(seq %d); do curl -s -o /dev/null --max-time 3 http://203.0.113.10/ || exit 1; done", n))
	Expect(r.Code).To(Equal(0), r.Stderr)
	out := map[string]int{}
	for _, f := range l.Flows() {
		if !before[f.Src] && f.Dst == "10.0.1.10:80" {
			out[f.Target]++
		}
	}
	return out
}
