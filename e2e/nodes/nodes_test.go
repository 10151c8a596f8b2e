package nodes

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/gwlblab"
	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// fastLab is the default lab with health checks that pass in about a
// second: a registered node is healthy before the spec grows old.
func fastLab() string {
	return harness.Variant(filepath.Join(harness.RepoRoot(), "scenarios", "default.yaml"),
		"vpcs:\n  consumer:", "lab: {time_scale: 5}\nvpcs:\n  consumer:",
		"health_check: {protocol: TCP, port: 80}", "health_check: {protocol: TCP, port: 80, interval: 5, healthy_threshold: 2}")
}

// cli runs gwlb-lab on the lab and expects it to succeed.
func cli(l string, args ...string) string {
	GinkgoHelper()
	r := harness.Run(time.Minute, append(args, "--name", l)...)
	Expect(r.Code).To(Equal(0), "gwlb-lab %s: %s%s", strings.Join(args, " "), r.Stdout, r.Stderr)
	return r.Stdout
}

// state reads the lab's state file.
func state(l string) lab.State {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join(lab.DefaultStateRoot, l, "state.json"))
	Expect(err).NotTo(HaveOccurred())
	var st lab.State
	Expect(json.Unmarshal(b, &st)).To(Succeed())
	return st
}

// namespaces lists the named namespaces of the lab.
func namespaces(l string) []string {
	GinkgoHelper()
	entries, err := os.ReadDir("/run/netns")
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), topology.ResourcePrefix(l)) {
			out = append(out, e.Name())
		}
	}
	return out
}

// cgroupProcs lists every process in the lab's cgroup tree.
func cgroupProcs(dir string) []string {
	GinkgoHelper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out = append(out, strings.Fields(string(b))...)
		return nil
	})
	Expect(err).NotTo(HaveOccurred())
	return out
}

// alive reports whether pid runs (and is not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// procStatus reads a number of /proc/PID/status (VmRSS in kB, Threads).
func procStatus(pid int, key string) int {
	GinkgoHelper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			n, err := strconv.Atoi(strings.Fields(v)[0])
			Expect(err).NotTo(HaveOccurred())
			return n
		}
	}
	Fail("no " + key + " in /proc/" + strconv.Itoa(pid) + "/status")
	return 0
}

func emulatorPID(st lab.State) int {
	for _, pr := range st.Processes {
		if pr.Role == lab.RoleEmulator {
			return pr.PID
		}
	}
	return 0
}

// addedNodes asks the emulator which nodes it has added at run time.
func addedNodes(l string) []api.Node {
	GinkgoHelper()
	c := control.NewClient(filepath.Join(lab.DefaultStateRoot, l, "control.sock"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []api.Node
	Expect(c.Get(ctx, api.PathNodes, &out)).To(Succeed())
	return out
}

func ports(l *harness.Lab) []string {
	GinkgoHelper()
	var out []string
	for _, p := range l.Counters().Ports {
		out = append(out, p.Node)
	}
	return out
}

var _ = Describe("a node added at run time", func() {
	It("is made like fw-1, takes traffic once registered, runs commands, and leaves nothing once removed", func() {
		l := harness.Up(fastLab())
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		portsBefore := ports(l)
		n, err := l.G().AddNode(ctx, gwlblab.NodeSpec{Name: "fw-3", Subnet: "appliances", Like: "fw-1"})
		Expect(err).NotTo(HaveOccurred())
		Expect(n.Runtime).To(BeTrue())
		Expect(n.Address).To(Equal("10.20.1.4/24"), "the lowest free address of 10.20.1.0/24 (fw-1, fw-2: .11, .12)")
		Expect(n.ID).To(MatchRegexp(`^i-[0-9a-f]{17}$`))
		Expect(n.Running).To(BeTrue())
		Expect(l.Exec("fw-3", "ip", "-br", "addr", "show", "eth0").Stdout).To(ContainSubstring("10.20.1.4/24"))
		Expect(l.Status().Nodes).To(ContainElement(HaveField("Name", "fw-3")))
		Expect(cli(l.Name, "nodes")).To(MatchRegexp(`fw-3\s+instance \(added\)`))

		// Registered, and the only target taking new flows: every new flow
		// goes through it.
		cli(l.Name, "targets", "register", "fw-3")
		l.WaitTarget("fw-3", "healthy")
		cli(l.Name, "targets", "deregister", "fw-1", "fw-2")
		Expect(l.NewFlowTargets(4)).To(Equal(map[string]int{"fw-3": 4}))

		// Refused while registered; nothing is touched.
		r := harness.Run(time.Minute, "node", "remove", "fw-3", "--name", l.Name)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("deregister it first"))
		Expect(l.Exec("fw-3", "true").Code).To(Equal(0))
		// The topology file's nodes are not removed.
		r = harness.Run(time.Minute, "node", "remove", "fw-1", "--name", l.Name)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("node of the topology file"))

		cli(l.Name, "targets", "register", "fw-1", "fw-2")
		cli(l.Name, "targets", "deregister", "fw-3")
		Expect(l.G().RemoveNode(ctx, "fw-3")).To(Succeed())

		Expect(namespaces(l.Name)).NotTo(ContainElement(topology.NetnsName(l.Name, "fw-3")))
		Expect(alive(n.PID)).To(BeFalse(), "fw-3's supervisor (pid %d) still runs", n.PID)
		Expect(alive(n.ProgramPID)).To(BeFalse(), "fw-3's appliance (pid %d) still runs", n.ProgramPID)
		st := state(l.Name)
		Expect(st.RuntimeNodes).To(BeEmpty())
		Expect(st.Namespaces).NotTo(ContainElement(topology.NetnsName(l.Name, "fw-3")))
		Expect(st.Processes).NotTo(ContainElement(HaveField("Node", "fw-3")))
		Expect(addedNodes(l.Name)).To(BeEmpty())
		Expect(ports(l)).To(ConsistOf(portsBefore))
		if st.Cgroup != "" {
			Expect(filepath.Join(st.Cgroup, "node-fw-3")).NotTo(BeADirectory())
		}
		Expect(l.Status().Nodes).NotTo(ContainElement(HaveField("Name", "fw-3")))
		// The lab goes on through fw-1 and fw-2.
		l.WaitTarget("fw-1", "healthy")
		Expect(l.NewFlowTargets(2)).NotTo(HaveKey("fw-3"))
	})

	It("from a node file gets its program, its address and an IPv6 refusal in an IPv4 subnet", func() {
		l := harness.Up(fastLab())
		file := filepath.Join(GinkgoT().TempDir(), "probe.yaml")
		Expect(os.WriteFile(file, []byte("private_ip: 10.0.1.77\nrun:\n  http_echo: {port: 8080}\n"), 0o644)).To(Succeed())
		out := cli(l.Name, "node", "add", "probe", "--subnet", "app", "--file", file, "--json")
		var ns lab.NodeStatus
		Expect(json.Unmarshal([]byte(out), &ns)).To(Succeed())
		Expect(ns.Address).To(Equal("10.0.1.77/24"))
		// web reaches it through the subnet router.
		Expect(l.Exec("web", "curl", "-s", "--max-time", "5", "http://10.0.1.77:8080/").Code).To(Equal(0))

		bad := filepath.Join(GinkgoT().TempDir(), "bad.yaml")
		Expect(os.WriteFile(bad, []byte("run:\n  http_echo: {prot: 8080}\n"), 0o644)).To(Succeed())
		r := harness.Run(time.Minute, "node", "add", "x", "--subnet", "app", "--file", bad, "--name", l.Name)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("line 2"))
		r = harness.Run(time.Minute, "node", "add", "y", "--subnet", "app", "--like", "web", "--ipv6", "auto", "--name", l.Name)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring("no ipv6_cidr"))
		// A program that never gets ready fails the add, which takes back
		// what it made.
		dead := filepath.Join(GinkgoT().TempDir(), "dead.yaml")
		Expect(os.WriteFile(dead, []byte("run:\n  command: [sleep, '60']\n  ready: {tcp: 9999, timeout: 1}\n"), 0o644)).To(Succeed())
		r = harness.Run(time.Minute, "node", "add", "dead", "--subnet", "app", "--file", dead, "--name", l.Name)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring(`node "dead"`))
		Expect(r.Stderr).To(ContainSubstring("port 9999"))
		Expect(namespaces(l.Name)).NotTo(ContainElement(topology.NetnsName(l.Name, "dead")))
		Expect(addedNodes(l.Name)).NotTo(ContainElement(HaveField("Name", "dead")))
		Expect(state(l.Name).Processes).NotTo(ContainElement(HaveField("Node", "dead")))
		Expect(state(l.Name).RuntimeNodes).To(HaveLen(1), "refused adds leave no record")
		cli(l.Name, "node", "remove", "probe")
	})
})

// runCrashing runs gwlb-lab with a crash point: it kills itself there.
func runCrashing(point string, args ...string) {
	GinkgoHelper()
	cmd := exec.Command(harness.Binary(), args...)
	cmd.Env = append(os.Environ(), "GWLB_LAB_TEST_CRASH_AT="+point)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	Expect(errors.As(err, &ee)).To(BeTrue(), "gwlb-lab %v did not crash: %v %s", args, err, out)
	Expect(ee.String()).To(ContainSubstring("killed"), "%s", out)
}

var _ = Describe("down and node remove after node add", func() {
	It("remove what node add made, whatever step it was killed at", func() {
		harness.RequireRoot()
		name := harness.RandomName()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		g, err := gwlblab.Up(ctx, gwlblab.Options{File: fastLab(), Name: name, Bin: harness.Binary()})
		DeferCleanup(func() { _ = exec.Command(harness.Binary(), "down", "--name", name).Run() })
		Expect(err).NotTo(HaveOccurred())
		st := state(name)

		whole, err := g.AddNode(ctx, gwlblab.NodeSpec{Name: "a1", Subnet: "appliances", Like: "fw-1"})
		Expect(err).NotTo(HaveOccurred())

		// Killed once its namespace and TAP exist, before the emulator
		// knows it: recorded, half-made, removable.
		runCrashing(lab.CrashNodeWired, "node", "add", "a2", "--subnet", "appliances", "--like", "fw-1", "--name", name)
		rec := state(name).RuntimeNodes
		Expect(rec).To(ContainElement(And(HaveField("Node.Name", "a2"), HaveField("Phase", lab.PhaseCreating))))
		Expect(namespaces(name)).To(ContainElement(topology.NetnsName(name, "a2")))
		Expect(harness.Run(time.Minute, "status", "--name", name).Stdout).To(MatchRegexp(`a2\s+instance \(adding\)`))
		cli(name, "node", "remove", "a2")
		Expect(namespaces(name)).NotTo(ContainElement(topology.NetnsName(name, "a2")))
		Expect(state(name).RuntimeNodes).NotTo(ContainElement(HaveField("Node.Name", "a2")))

		// Killed with its program started and unrecorded: down removes it.
		runCrashing(lab.CrashNodeProgramStarted, "node", "add", "a3", "--subnet", "appliances", "--like", "fw-1", "--name", name)
		Expect(namespaces(name)).To(ContainElement(topology.NetnsName(name, "a3")))
		Expect(addedNodes(name)).To(ContainElement(HaveField("Name", "a3")))

		Expect(g.Down(ctx)).To(Succeed())
		Expect(namespaces(name)).To(BeEmpty())
		Expect(alive(whole.PID)).To(BeFalse())
		Expect(alive(whole.ProgramPID)).To(BeFalse())
		Expect(filepath.Join(lab.DefaultStateRoot, name)).NotTo(BeADirectory())
		if st.Cgroup != "" {
			Expect(st.Cgroup).NotTo(BeADirectory())
		}
	})
})

var _ = Describe("fifty adds and removes under traffic", func() {
	It("leak no port, namespace, process, record, emulator memory or thread, and disturb no flow", func() {
		l := harness.Up(fastLab())
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		st0 := state(l.Name)
		emu := emulatorPID(st0)
		Expect(emu).NotTo(BeZero())
		nsBefore, portsBefore := namespaces(l.Name), ports(l)
		procsBefore := 0
		if st0.Cgroup != "" {
			procsBefore = len(cgroupProcs(st0.Cgroup))
		}
		// One add and remove first, so that what the first one allocates
		// for good (buffers, goroutine stacks) is in the baseline.
		_, err := l.G().AddNode(ctx, gwlblab.NodeSpec{Name: "warm", Subnet: "appliances", Like: "fw-1"})
		Expect(err).NotTo(HaveOccurred())
		Expect(l.G().RemoveNode(ctx, "warm")).To(Succeed())
		rss0, threads0 := procStatus(emu, "VmRSS"), procStatus(emu, "Threads")

		// Traffic: client to web through the GWLB, the whole time.
		var ok, failed atomic.Int64
		var lastErr atomic.Value
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := l.G().Exec(ctx, "client", "curl", "-s", "-o", "/dev/null", "--max-time", "5", "http://203.0.113.10/")
				if err == nil && r.Code == 0 {
					ok.Add(1)
				} else {
					failed.Add(1)
					lastErr.Store(fmt.Sprintf("%v %s", err, r.Stderr))
				}
			}
		}()
		for i := range 50 {
			name := fmt.Sprintf("x-%d", i)
			_, err := l.G().AddNode(ctx, gwlblab.NodeSpec{Name: name, Subnet: "appliances", Like: "fw-1"})
			Expect(err).NotTo(HaveOccurred(), "add %s", name)
			Expect(l.G().RemoveNode(ctx, name)).To(Succeed(), "remove %s", name)
		}
		close(stop)
		wg.Wait()
		GinkgoWriter.Printf("%d requests through the GWLB during the adds and removes\n", ok.Load())
		Expect(ok.Load()).To(BeNumerically(">", 0), "no request went through")
		Expect(failed.Load()).To(BeZero(), "requests through the GWLB failed while nodes came and went: %v", lastErr.Load())

		Expect(addedNodes(l.Name)).To(BeEmpty())
		Expect(ports(l)).To(ConsistOf(portsBefore))
		Expect(namespaces(l.Name)).To(ConsistOf(nsBefore))
		st := state(l.Name)
		Expect(st.RuntimeNodes).To(BeEmpty())
		Expect(st.Namespaces).To(ConsistOf(st0.Namespaces))
		Expect(st.Processes).To(HaveLen(len(st0.Processes)))
		if st0.Cgroup != "" {
			Eventually(func() int { return len(cgroupProcs(st0.Cgroup)) }).WithTimeout(10 * time.Second).Should(Equal(procsBefore))
		}
		entries, err := os.ReadDir(filepath.Join(lab.DefaultStateRoot, l.Name, "logs"))
		Expect(err).NotTo(HaveOccurred())
		for _, e := range entries {
			Expect(e.Name()).NotTo(HavePrefix("x-"), "a removed node's file is left")
		}
		// Generous bounds: the Go runtime returns memory lazily.
		Eventually(func() int { return procStatus(emu, "Threads") }).WithTimeout(20 * time.Second).Should(BeNumerically("<=", threads0+8))
		Eventually(func() int { return procStatus(emu, "VmRSS") }).WithTimeout(20 * time.Second).Should(BeNumerically("<=", rss0+32*1024))
	})
})

var _ = Describe("node add and node remove run in parallel", func() {
	It("give each node its own address and lose no record", func() {
		l := harness.Up(fastLab())
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		const n = 6
		type added struct {
			status lab.NodeStatus
			err    error
		}
		results := make([]added, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i].status, results[i].err = l.G().AddNode(ctx, gwlblab.NodeSpec{Name: fmt.Sprintf("p-%d", i), Subnet: "appliances", Like: "fw-1"})
			}()
		}
		wg.Wait()
		addrs := map[string]string{}
		for i, r := range results {
			Expect(r.err).NotTo(HaveOccurred(), "add p-%d", i)
			Expect(addrs).NotTo(HaveKey(r.status.Address), "p-%d and %s share an address", i, addrs[r.status.Address])
			addrs[r.status.Address] = r.status.Name
		}
		Expect(state(l.Name).RuntimeNodes).To(HaveLen(n))
		Expect(addedNodes(l.Name)).To(HaveLen(n))
		// The same name twice at once: exactly one add wins.
		var okCount atomic.Int64
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := l.G().AddNode(ctx, gwlblab.NodeSpec{Name: "twin", Subnet: "appliances", Like: "fw-1"}); err == nil {
					okCount.Add(1)
				}
			}()
		}
		wg.Wait()
		Expect(okCount.Load()).To(BeEquivalentTo(1))

		errs := make([]error, n+1)
		for i := range n + 1 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := "twin"
				if i < n {
					name = fmt.Sprintf("p-%d", i)
				}
				errs[i] = l.G().RemoveNode(ctx, name)
			}()
		}
		wg.Wait()
		for _, err := range errs {
			Expect(err).NotTo(HaveOccurred())
		}
		st := state(l.Name)
		Expect(st.RuntimeNodes).To(BeEmpty())
		Expect(st.Processes).NotTo(ContainElement(HaveField("Node", HavePrefix("p-"))))
		Expect(addedNodes(l.Name)).To(BeEmpty())
		Expect(namespaces(l.Name)).NotTo(ContainElement(HavePrefix(topology.NetnsName(l.Name, "p-"))))
	})
})

// fromEmulator runs gwlb-lab as the emulator would exec it: working
// directory /, a bare environment, and the emulator's hold file inherited
// as descriptor 4.
func fromEmulator(l string, args ...string) (stdout, stderr string, code int) {
	GinkgoHelper()
	hold, err := os.Open(filepath.Join(lab.DefaultStateRoot, l, "emulator.hold"))
	Expect(err).NotTo(HaveOccurred())
	defer hold.Close()
	null, err := os.Open(os.DevNull)
	Expect(err).NotTo(HaveOccurred())
	defer null.Close()
	cmd := exec.Command(harness.Binary(), append(args, "--name", l)...)
	cmd.Dir, cmd.Env = "/", []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.ExtraFiles = []*os.File{null, hold}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), errb.String(), ee.ExitCode()
	}
	Expect(err).NotTo(HaveOccurred())
	return out.String(), errb.String(), 0
}

// holds reports whether pid has a descriptor on a file named base.
func holds(pid int, base string) bool {
	entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, e := range entries {
		if t, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name())); err == nil && filepath.Base(t) == base {
			return true
		}
	}
	return false
}

var _ = Describe("node add and node remove run by the emulator", func() {
	It("pass the emulator's hold file to no node program, so emulator restart leaves them, and report errors on stderr", func() {
		l := harness.Up(fastLab())
		out, errOut, code := fromEmulator(l.Name, "node", "add", "e-1", "--subnet", "appliances", "--like", "fw-1", "--json")
		Expect(code).To(Equal(0), errOut)
		var ns lab.NodeStatus
		Expect(json.Unmarshal([]byte(out), &ns)).To(Succeed())
		Expect(ns.ProgramPID).NotTo(BeZero())
		Expect(holds(ns.PID, "emulator.hold")).To(BeFalse(), "the supervisor holds the emulator's hold file")
		Expect(holds(ns.ProgramPID, "emulator.hold")).To(BeFalse(), "the appliance holds the emulator's hold file")
		cli(l.Name, "emulator", "restart")
		Expect(alive(ns.ProgramPID)).To(BeTrue(), "emulator restart stopped the added node's program")
		Expect(addedNodes(l.Name)).To(ContainElement(HaveField("Name", "e-1")))

		out, errOut, code = fromEmulator(l.Name, "node", "add", "e-2", "--subnet", "nope", "--like", "fw-1")
		Expect(code).To(Equal(1))
		Expect(out).To(BeEmpty())
		Expect(errOut).To(ContainSubstring(`no subnet "nope"`))

		_, errOut, code = fromEmulator(l.Name, "node", "remove", "e-1")
		Expect(code).To(Equal(0), errOut)
		Expect(alive(ns.ProgramPID)).To(BeFalse())
		Expect(state(l.Name).RuntimeNodes).To(BeEmpty())
	})
})
