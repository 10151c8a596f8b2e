package procs

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/gwlb-lab/gwlb-lab/lab/cgroup"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const topo = "testdata/procs.yaml"

// markVar is set in the environment of `up`; everything the lab starts
// inherits it, which lets a spec find its lab's processes, and only those.
const markVar = "GWLB_LAB_TEST_MARK"

// run runs gwlb-lab with extra environment and returns what it printed.
func run(env []string, timeout time.Duration, args ...string) harness.Result {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, harness.Binary(), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := harness.Result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else {
		Expect(err).NotTo(HaveOccurred(), "run gwlb-lab %s", strings.Join(args, " "))
	}
	return r
}

// mode is one way of running labs: with the lab's cgroup, or without (as
// where cgroup v2 is not writable), on the handshake and namespace scan.
type mode struct {
	name string
	env  []string
}

var modes = []mode{
	{name: "with a cgroup"},
	{name: "without a cgroup", env: []string{"GWLB_LAB_NO_CGROUP=1"}},
}

// newLab picks a random lab name, and registers a down for it that runs
// whatever happens to the spec.
func newLab(m mode) (name string, env []string) {
	harness.RequireRoot()
	name = harness.RandomName()
	env = append([]string{markVar + "=" + name}, m.env...)
	DeferCleanup(func() { run(env, 2*time.Minute, "down", "--name", name) })
	return name, env
}

// up brings the lab up and fails the spec if it does not come up.
func up(name string, env []string, file string) {
	GinkgoHelper()
	r := run(env, 3*time.Minute, "up", "-q", "-f", file, "--name", name)
	Expect(r.Code).To(Equal(0), "up: %s%s", r.Stdout, r.Stderr)
}

// proc is a live process of a spec's lab.
type proc struct {
	pid, ppid, sid int
	comm, cmdline  string
}

// marked returns the live (non-zombie) processes carrying lab name's mark.
func marked(name string) []proc {
	GinkgoHelper()
	want := []byte(markVar + "=" + name + "\x00")
	ents, err := os.ReadDir("/proc")
	Expect(err).NotTo(HaveOccurred())
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(append([]byte{0}, env...), append([]byte{0}, want...)) {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+2:])
		if f[0] == "Z" || f[0] == "X" {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		ppid, _ := strconv.Atoi(f[1])
		sid, _ := strconv.Atoi(f[3])
		out = append(out, proc{
			pid: pid, ppid: ppid, sid: sid,
			comm:    s[strings.IndexByte(s, '(')+1 : i],
			cmdline: strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " ")),
		})
	}
	return out
}

// withCmdline returns the marked processes whose command line is cmdline.
func withCmdline(name, cmdline string) []proc {
	var out []proc
	for _, p := range marked(name) {
		if p.cmdline == cmdline {
			out = append(out, p)
		}
	}
	return out
}

// leftovers lists what of lab name is still on the machine: namespaces,
// its cgroup, its state, processes, host links naming it.
func leftovers(name string) []string {
	GinkgoHelper()
	var left []string
	ents, err := os.ReadDir("/run/netns")
	Expect(err).NotTo(HaveOccurred())
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "gwlb-"+name+"-") {
			left = append(left, "namespace "+e.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(lab.DefaultStateRoot, name)); err == nil {
		left = append(left, "state directory")
	}
	if mount, err := cgroup.Mount(); err == nil {
		dir, err := cgroup.LabDir(mount, name)
		Expect(err).NotTo(HaveOccurred())
		if cgroup.Exists(dir) {
			left = append(left, "cgroup "+dir)
		}
	}
	for _, p := range marked(name) {
		left = append(left, "process "+strconv.Itoa(p.pid)+" "+p.cmdline)
	}
	links, err := exec.Command("ip", "-o", "link").Output()
	Expect(err).NotTo(HaveOccurred())
	if strings.Contains(string(links), name) {
		left = append(left, "a host link naming the lab")
	}
	return left
}

// downClean runs down and expects it to succeed and leave nothing.
func downClean(name string, env []string) {
	GinkgoHelper()
	r := run(env, 2*time.Minute, "down", "--name", name)
	Expect(r.Code).To(Equal(0), "down: %s%s", r.Stdout, r.Stderr)
	Expect(leftovers(name)).To(BeEmpty())
}

// status returns the lab's status as status --json prints it, and the
// command's exit code.
func status(name string) (*lab.Status, int) {
	GinkgoHelper()
	r := harness.Run(time.Minute, "status", "--json", "--name", name)
	var s lab.Status
	Expect(json.Unmarshal([]byte(r.Stdout), &s)).To(Succeed(), "status: %s%s", r.Stdout, r.Stderr)
	return &s, r.Code
}

func nodeStatus(s *lab.Status, node string) lab.NodeStatus {
	GinkgoHelper()
	for _, n := range s.Nodes {
		if n.Name == node {
			return n
		}
	}
	Fail("no node " + node + " in status")
	return lab.NodeStatus{}
}
