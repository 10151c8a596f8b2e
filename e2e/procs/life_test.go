package procs

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/lab"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Node identity and lifecycle (testdata/life.yaml): restart policies, the
// private /run, /var/run and /tmp, and the GWLB_* environment.
var _ = Describe("node programs", Ordered, func() {
	var l *harness.Lab
	BeforeAll(func() {
		// fw-1 never answers its health checks; waiting for its verdict
		// is not what these specs are about.
		l = harness.Up("testdata/life.yaml", "--no-wait")
	})
	file := func(parts ...string) string {
		b, err := os.ReadFile(filepath.Join(append([]string{l.StateDir()}, parts...)...))
		if err != nil {
			return ""
		}
		return string(b)
	}
	node := func(name string) lab.NodeStatus {
		for _, n := range l.Status().Nodes {
			if n.Name == name {
				return n
			}
		}
		Fail("no node " + name)
		return lab.NodeStatus{}
	}

	It("restarts a crashing program under restart: on-failure, with the count in status", func() {
		Eventually(func() int { return strings.Count(file("nodes", "crash-on-failure", "runs"), "run") }, 20*time.Second, 50*time.Millisecond).
			Should(BeNumerically(">=", 3))
		Eventually(func() int { return node("crash-on-failure").Restarts }, 10*time.Second, 50*time.Millisecond).Should(BeNumerically(">=", 2))
		Expect(node("crash-on-failure").Running).To(BeTrue(), "its supervisor waits to restart it")
		r := harness.Run(time.Minute, "status", "--name", l.Name)
		Expect(r.Stdout).To(MatchRegexp(`crash-on-failure .* restarts`))
	})

	It("does not restart it under restart: never", func() {
		Eventually(func() *int { return node("crash-never").ExitCode }, 10*time.Second, 50*time.Millisecond).Should(HaveValue(Equal(3)))
		// The on-failure twin of the same program restarts within 100 ms.
		Consistently(func() string { return file("nodes", "crash-never", "runs") }, time.Second, 50*time.Millisecond).Should(Equal("run\n"))
		Expect(node("crash-never").Restarts).To(BeZero())
	})

	It("gives two nodes running one program a /var/run and /tmp of their own", func() {
		for _, n := range []string{"same-1", "same-2"} {
			Eventually(func() string { return file("logs", n, "result") }, 10*time.Second, 50*time.Millisecond).
				Should(Equal("own\n"), "node %s found the other node's pid file", n)
			// Nothing of the host's /tmp but, when gwlb-lab itself lives
			// there (a checkout in /tmp), the way to it, bound back.
			want := ""
			if rel, ok := strings.CutPrefix(harness.Binary(), "/tmp/"); ok {
				first, _, _ := strings.Cut(rel, "/")
				want = first + "\n"
			}
			Expect(file("logs", n, "tmp")).To(Equal(want), "node %s sees the host's /tmp", n)
		}
		Expect("/var/run/gwlb-lab-e2e-same.pid").NotTo(BeAnExistingFile(), "a node wrote into the host's /var/run")
		Expect("/run/gwlb-lab-e2e-same.pid").NotTo(BeAnExistingFile(), "a node wrote into the host's /run")
	})

	It("places the topology's files in the node's own view", func() {
		Eventually(func() string { return file("logs", "files", "files") }, 10*time.Second, 50*time.Millisecond).
			Should(Equal(strings.Repeat("gwlb-lab e2e file\n", 3)))
		Expect("/run/app/app.conf").NotTo(BeAnExistingFile(), "a file went into the host's /run")
		host, err := os.ReadFile("/etc/hostname")
		Expect(err).NotTo(HaveOccurred())
		Expect(string(host)).NotTo(Equal("gwlb-lab e2e file\n"), "the host's /etc/hostname was replaced")
		Expect(file("nodes", "files", "conf", "rel.conf")).To(Equal("gwlb-lab e2e file\n"))
	})

	It("tells a node program who and where it is", func() {
		Eventually(func() string { return file("logs", "fw-1", "env") }, 10*time.Second, 50*time.Millisecond).ShouldNot(BeEmpty())
		env := map[string]string{}
		for _, line := range strings.Split(file("logs", "fw-1", "env"), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "GWLB_") {
				env[k] = v
			}
		}
		Expect(env).To(HaveKeyWithValue("GWLB_LAB", l.Name))
		Expect(env).To(HaveKeyWithValue("GWLB_NODE", "fw-1"))
		Expect(env).To(HaveKeyWithValue("GWLB_ADDR", "10.30.1.31"))
		Expect(env).To(HaveKeyWithValue("GWLB_PREFIX", "10.30.1.31/24"))
		Expect(env).To(HaveKeyWithValue("GWLB_GATEWAY", "10.30.1.1"))
		Expect(env).To(HaveKeyWithValue("GWLB_IFACE", "eth0"))
		Expect(env).To(HaveKeyWithValue("GWLB_NODES", "10.30.1.50"))
		work := filepath.Join(l.StateDir(), "nodes", "fw-1")
		Expect(env).To(HaveKeyWithValue("GWLB_WORKDIR", work))
		Expect(env).To(HaveKeyWithValue("GWLB_LOGDIR", filepath.Join(l.StateDir(), "logs", "fw-1")))
		Expect(env).NotTo(HaveKey("GWLB_ADDR6"), "an IPv4-only node")
		Expect(file("logs", "fw-1", "pwd")).To(Equal(work + "\n"))
	})
})

var _ = Describe("readiness checks", func() {
	It("make up wait for a program that listens late", func() {
		file := harness.Variant("testdata/life.yaml", "  fw-1:\n", `  late:
        subnet: a
        private_ip: 10.30.1.41
        run:
          ready: {tcp: 8080, timeout: 20}
          command: [sh, -c, 'sleep 2; exec `+harness.Binary()+` echo --node late --http :8080 --udp :8080']
      fw-1:
`)
		start := time.Now()
		l := harness.Up(file, "--no-wait")
		Expect(time.Since(start)).To(BeNumerically(">=", 2*time.Second), "up returned before the program listened")
		r := l.Exec("late", "curl", "-s", "--max-time", "2", "http://127.0.0.1:8080/")
		Expect(r.Code).To(Equal(0), "the program does not answer right after up: %s", r.Stderr)
	})

	It("make up fail, with the node named, when the check never passes", func() {
		file := harness.Variant("testdata/life.yaml", "          restart: never\n", "          restart: never\n          ready: {command: ['false'], timeout: 1}\n")
		name := harness.RandomName()
		DeferCleanup(func() { harness.Run(2*time.Minute, "down", "--name", name) })
		r := harness.Run(3*time.Minute, "up", "--no-wait", "-f", file, "--name", name)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring(`node "crash-never": not ready after 1s`))
	})
})
