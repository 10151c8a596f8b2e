package compose

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/appliance"
	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/lab"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// project is one docker-compose project of the repository's compose file,
// under a name no other run uses.
type project struct{ name string }

// newProject names a project and registers its removal: docker-compose
// down, then whatever container still carries the project's label (only
// this project's: the name is random).
func newProject() *project {
	p := &project{name: "gwlb" + harness.RandomName()}
	DeferCleanup(func() {
		if CurrentSpecReport().Failed() {
			r := p.run(time.Minute, "logs", "--no-color")
			GinkgoWriter.Printf("logs of project %s:\n%s%s\n", p.name, r.Stdout, r.Stderr)
		}
		r := p.run(3*time.Minute, "down", "--timeout", "60")
		for _, id := range strings.Fields(docker("ps", "-aq", "--filter", "label=com.docker.compose.project="+p.name)) {
			docker("rm", "-f", id)
		}
		Expect(r.Code).To(Equal(0), "docker-compose down: %s%s", r.Stdout, r.Stderr)
	})
	return p
}

// run runs docker-compose on the repository's compose file with the image
// under test.
func (p *project) run(timeout time.Duration, args ...string) harness.Result {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	argv := append(append([]string{}, composeArgv[1:]...),
		"-f", filepath.Join(harness.RepoRoot(), "docker-compose.yml"), "-p", p.name)
	cmd := exec.CommandContext(ctx, composeArgv[0], append(argv, args...)...)
	cmd.Dir = harness.RepoRoot()
	cmd.Env = append(os.Environ(), "GWLB_LAB_BOX_IMAGE="+image)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := harness.Result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else {
		Expect(err).NotTo(HaveOccurred(), "run %s %s", composeArgv[0], strings.Join(args, " "))
	}
	return r
}

// lab runs gwlb-lab in the project's lab container.
func (p *project) lab(args ...string) harness.Result {
	return p.run(time.Minute, append([]string{"exec", "-T", "lab", "gwlb-lab"}, args...)...)
}

// up starts the project and waits until the lab in it is up.
func (p *project) up() *lab.Status {
	r := p.run(3*time.Minute, "up", "-d", "--no-build")
	Expect(r.Code).To(Equal(0), "docker-compose up: %s%s", r.Stdout, r.Stderr)
	var st lab.Status
	Eventually(func() string {
		st = lab.Status{}
		r := p.lab("status", "--json")
		if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &st) != nil {
			return r.Stderr
		}
		return st.Phase
	}, 2*time.Minute, 250*time.Millisecond).Should(Equal(lab.PhaseUp))
	return &st
}

// container returns the ID of the project's lab container.
func (p *project) container() string {
	r := p.run(time.Minute, "ps", "-q", "lab")
	Expect(r.Code).To(Equal(0), r.Stderr)
	id := strings.TrimSpace(r.Stdout)
	Expect(id).NotTo(BeEmpty(), "project %s has no lab container", p.name)
	return id
}

// docker runs a docker command that must succeed and returns its output.
func docker(args ...string) string {
	out, err := exec.Command("docker", args...).Output()
	Expect(err).NotTo(HaveOccurred(), "docker %s", strings.Join(args, " "))
	return strings.TrimSpace(string(out))
}

// traces is what of a running project could outlive it on the host: the
// processes of its container (its PID namespace) and of its nodes' network
// namespaces, each by PID and start time, and those namespaces (by inode).
//
// Namespace inodes are reused as soon as a namespace is freed, and other
// suites make namespaces at the same time, so after down a process or mount
// is the project's only if it is one recorded here (PID and start time) or
// a mount at a path of the project's lab.
type traces struct {
	netNS []string       // "net:[inode]"
	procs map[int]string // PID -> start time (field 22 of /proc/PID/stat)
}

// startTime is a process's start time in clock ticks since boot, "" when
// it is gone.
func startTime(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) may hold spaces: count after its ')'.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19]
}

func (p *project) traces(id string) traces {
	pid := docker("inspect", "-f", "{{.State.Pid}}", id)
	pidNS, err := os.Readlink("/proc/" + pid + "/ns/pid")
	Expect(err).NotTo(HaveOccurred())
	r := p.run(time.Minute, "exec", "-T", "lab", "sh", "-c", "stat -L -c %i /run/netns/*")
	Expect(r.Code).To(Equal(0), r.Stderr)
	t := traces{procs: map[int]string{}}
	for _, ino := range strings.Fields(r.Stdout) {
		t.netNS = append(t.netNS, "net:["+ino+"]")
	}
	Expect(t.netNS).To(HaveLen(5), "the default lab has 5 nodes")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		ps, _ := os.Readlink(dir + "/ns/pid")
		ns, _ := os.Readlink(dir + "/ns/net")
		if ps != pidNS && !contains(t.netNS, ns) {
			continue
		}
		if n, err := strconv.Atoi(filepath.Base(dir)); err == nil {
			if st := startTime(n); st != "" {
				t.procs[n] = st
			}
		}
	}
	Expect(t.procs).NotTo(BeEmpty(), "the lab's processes")
	return t
}

// leftovers lists what of the project is still on the host: containers,
// networks and volumes with its label, the processes its container and
// nodes ran, mounts of its nodes' namespaces at its lab's paths.
func (p *project) leftovers(t traces) []string {
	var left []string
	label := "label=com.docker.compose.project=" + p.name
	for _, what := range [][]string{{"ps", "-aq"}, {"network", "ls", "-q"}, {"volume", "ls", "-q"}} {
		if ids := docker(append(what, "--filter", label)...); ids != "" {
			left = append(left, fmt.Sprintf("docker %s: %s", what[0], ids))
		}
	}
	for pid, st := range t.procs {
		if startTime(pid) == st {
			left = append(left, fmt.Sprintf("process %d of the container or its nodes", pid))
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	Expect(err).NotTo(HaveOccurred())
	for _, line := range strings.Split(string(mounts), "\n") {
		f := strings.Fields(line)
		// root (field 4) of an nsfs mount is "net:[inode]"; the mount
		// point (field 5) of one of this lab's nodes, had it leaked to the
		// host, would be the default lab's.
		if len(f) > 4 && contains(t.netNS, f[3]) && strings.HasPrefix(f[4], "/run/netns/gwlb-default-") {
			left = append(left, "a mount of "+f[3]+" at "+f[4])
		}
	}
	return left
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var _ = Describe("docker-compose.yml", func() {
	It("runs the default lab, carries client -> web through an appliance, and down leaves nothing", func() {
		p := newProject()
		p.up()
		id := p.container()
		// No Docker network, no file of the host: the lab needs neither.
		Expect(docker("inspect", "-f", "{{.HostConfig.NetworkMode}}", id)).To(Equal("none"))
		Expect(docker("inspect", "-f", "{{json .Mounts}}", id)).To(Equal("[]"))
		Expect(docker("network", "ls", "-q", "--filter", "label=com.docker.compose.project="+p.name)).To(BeEmpty())
		t := p.traces(id)

		// The README's command, without a terminal.
		r := p.lab("exec", "client", "--", "curl", "-s", "-m", "10", "http://203.0.113.10/")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("node web"))
		Expect(r.Stdout).To(ContainSubstring("remote 198.51.100.10:"), "GWLB does not translate")
		Expect(r.Stdout).To(ContainSubstring("local 10.0.1.10:80"))

		// The flow went to an appliance, which returned its packets.
		r = p.lab("flows", "--json", "--host", "198.51.100.10")
		Expect(r.Code).To(Equal(0), r.Stderr)
		var flows []api.Flow
		Expect(json.Unmarshal([]byte(r.Stdout), &flows)).To(Succeed())
		Expect(flows).NotTo(BeEmpty())
		f := flows[0]
		Expect(f.Dst).To(Equal("10.0.1.10:80"))
		Expect(f.Target).To(BeElementOf("fw-1", "fw-2"))
		Expect(f.OrigPackets).To(BeNumerically(">", 0))
		Expect(f.ReplyPackets).To(BeNumerically(">", 0))
		r = p.run(time.Minute, "exec", "-T", "lab", "cat", "/run/gwlb-lab/default/logs/"+f.Target+".stats.json")
		Expect(r.Code).To(Equal(0), r.Stderr)
		var stats appliance.Stats
		Expect(json.Unmarshal([]byte(r.Stdout), &stats)).To(Succeed())
		Expect(stats.Returned).To(BeNumerically(">=", f.OrigPackets+f.ReplyPackets))

		// SIGTERM (stop) makes gwlb-lab remove the lab and exit 0.
		r = p.run(2*time.Minute, "stop")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(docker("inspect", "-f", "{{.State.ExitCode}}", id)).To(Equal("0"))
		r = p.run(time.Minute, "logs", "--no-color")
		Expect(r.Stdout).To(ContainSubstring("lab default removed"))

		r = p.run(2*time.Minute, "down")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(p.leftovers(t)).To(BeEmpty())
	})

	It("exits non-zero, with the emulator's log, when the emulator dies", func() {
		p := newProject()
		st := p.up()
		id := p.container()
		t := p.traces(id)
		Expect(st.Emulator.PID).To(BeNumerically(">", 1))

		r := p.run(time.Minute, "exec", "-T", "lab", "kill", "-KILL", strconv.Itoa(st.Emulator.PID))
		Expect(r.Code).To(Equal(0), r.Stderr)
		Eventually(func() string {
			return docker("inspect", "-f", "{{.State.Status}}", id)
		}, time.Minute, 250*time.Millisecond).Should(Equal("exited"))
		Expect(docker("inspect", "-f", "{{.State.ExitCode}}", id)).To(Equal("1"))
		r = p.run(time.Minute, "logs", "--no-color")
		Expect(r.Stdout).To(ContainSubstring("the emulator of lab default exited"))
		Expect(r.Stdout).To(ContainSubstring("last lines of /run/gwlb-lab/default/emulator.log"))
		Expect(r.Stdout).To(ContainSubstring("lab default removed"))

		r = p.run(2*time.Minute, "down")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(p.leftovers(t)).To(BeEmpty())
	})
})
