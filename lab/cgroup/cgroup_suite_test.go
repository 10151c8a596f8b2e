package cgroup_test

import (
	"crypto/rand"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gwlb-lab/gwlb-lab/lab/cgroup"
)

func TestCgroup(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "lab/cgroup")
}

func randomLab() string {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return "t" + string(b)
}

// live reports whether pid runs (a zombie, waiting for its new parent to
// reap it, does not).
func live(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}

var _ = Describe("a lab's cgroup", func() {
	It("holds a child from birth, with what it forks and daemonizes, until Kill; then Remove leaves nothing", func() {
		if os.Geteuid() != 0 {
			Skip("needs root: writes the cgroup2 hierarchy")
		}
		mount, err := cgroup.Mount()
		if errors.Is(err, cgroup.ErrUnavailable) {
			Skip("no cgroup2 hierarchy here")
		}
		Expect(err).NotTo(HaveOccurred())
		dir, err := cgroup.LabDir(mount, randomLab())
		Expect(err).NotTo(HaveOccurred())
		child := filepath.Join(dir, "node-a")
		if err := cgroup.Create(child); errors.Is(err, cgroup.ErrUnavailable) {
			Skip("cgroup2 is not writable here")
		} else {
			Expect(err).NotTo(HaveOccurred())
		}
		DeferCleanup(func() {
			Expect(cgroup.Kill(dir, 5*time.Second)).To(Succeed())
			Expect(cgroup.Remove(dir)).To(Succeed())
		})

		fd, err := cgroup.Open(child)
		Expect(err).NotTo(HaveOccurred())
		daemonFile := filepath.Join(GinkgoT().TempDir(), "daemon.pid")
		cmd := exec.Command("sh", "-c", `setsid sh -c 'echo $$ > "$1"; exec sleep 1000' sh "$1" & exec sleep 1001`, "sh", daemonFile)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, UseCgroupFD: true, CgroupFD: int(fd.Fd())}
		Expect(cmd.Start()).To(Succeed())
		fd.Close()
		go func() { _ = cmd.Wait() }()

		// Born inside: /proc says so without any write to cgroup.procs.
		b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
		Expect(err).NotTo(HaveOccurred())
		rel, _ := filepath.Rel(mount, child)
		Expect(string(b)).To(ContainSubstring("0::/" + rel + "\n"))

		var daemon int
		Eventually(func() int {
			b, _ := os.ReadFile(daemonFile)
			daemon, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			return daemon
		}, 5*time.Second, 10*time.Millisecond).ShouldNot(BeZero())
		Expect(cgroup.Procs(dir)).To(ContainElements(cmd.Process.Pid, daemon))
		Expect(cgroup.Populated(dir)).To(BeTrue())

		Expect(cgroup.Kill(dir, 5*time.Second)).To(Succeed())
		Expect(cgroup.Populated(dir)).To(BeFalse())
		Expect(live(daemon)).To(BeFalse(), "the daemon that left the session is gone too")
		Expect(cgroup.Remove(dir)).To(Succeed())
		Expect(cgroup.Exists(dir)).To(BeFalse())
		Expect(cgroup.Remove(dir)).To(Succeed(), "removing twice is harmless")
		Expect(cgroup.Kill(dir, time.Second)).To(Succeed(), "so is killing a missing tree")
	})
})
