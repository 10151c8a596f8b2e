package hardening

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// exitNoLab is the documented exit status of a command whose lab is not up.
const exitNoLab = 3

func namespaceExists(name string) bool {
	_, err := os.Stat(filepath.Join("/run/netns", name))
	return err == nil
}

// expectIntact checks that lab l still has both its namespaces and that its
// emulator and fw-1's program still run.
func expectIntact(l *harness.Lab) {
	GinkgoHelper()
	for _, n := range []string{"fw-1", "fw-2"} {
		Expect(namespaceExists("gwlb-"+l.Name+"-"+n)).To(BeTrue(), "namespace of node %s is gone", n)
	}
	s := l.Status()
	Expect(s.Phase).To(Equal("up"))
	Expect(s.Emulator.Running).To(BeTrue(), "emulator of %s", l.Name)
	for _, n := range s.Nodes {
		if n.Name == "fw-1" {
			Expect(n.Running).To(BeTrue(), "fw-1's program of %s", l.Name)
		}
	}
	r := l.Exec("fw-1", "curl", "-s", "--max-time", "3", "http://10.0.1.10/")
	Expect(r.Code).To(Equal(0), "fw-1 no longer answers: %s", r.Stderr)
}

var _ = Describe("a lab whose name another lab's name starts with", Ordered, func() {
	var a *harness.Lab
	BeforeAll(func() {
		// Nodes fw-1 and fw-2: lab "<a>-fw" would own gwlb-<a>-fw-*
		// by prefix.
		a = harness.Up("testdata/fw.yaml")
	})

	It("is left whole by down of the lab named <it>-fw, which says that lab is not up", func() {
		other := a.Name + "-fw"
		r := harness.Run(time.Minute, "down", "--name", other)
		Expect(r.Code).To(Equal(exitNoLab), "down %s: %s%s", other, r.Stdout, r.Stderr)
		Expect(r.Stderr).To(ContainSubstring(`no lab named "` + other + `" is up (labs up: `))
		Expect(r.Stderr).To(MatchRegexp(`labs up: [^)]*\b` + a.Name + `\b`))
		Expect(r.Stdout).To(BeEmpty())
		expectIntact(a)
	})

	It("keeps its namespace when a lab <it>-fw with a node 1 tries to come up, and the refusal points at it", func() {
		other := a.Name + "-fw"
		DeferCleanup(func() { harness.Run(time.Minute, "down", "--name", other) })
		r := harness.Run(2*time.Minute, "up", "-q", "-f", "testdata/one.yaml", "--name", other)
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring(`namespace "gwlb-` + other + `-1" of node "1" belongs to lab "` + a.Name + `"`))
		Expect(r.Stderr).NotTo(ContainSubstring("down --name "+other), "the advice points at a live lab")
		expectIntact(a)
		Expect(harness.Run(time.Minute, "status", "--name", other).Code).To(Equal(exitNoLab))
	})

	It("tells a user without root that root is needed, for every command that only looks", func() {
		bin := unprivilegedCopy()
		for _, args := range [][]string{
			{"status"}, {"nodes"}, {"inspect"}, {"flows"}, {"endpoints"}, {"targets"},
			{"logs", "emulator"}, {"trace", "-c", "1"}, {"capture", "fw-1", "-w", "-", "-c", "1"},
			{"exec", "fw-1", "--", "true"},
		} {
			args = append(args[:1:1], append([]string{"--name", a.Name}, args[1:]...)...)
			cmd := exec.Command(bin, args...)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
			var errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = io.Discard, &errb
			err := cmd.Run()
			Expect(err).To(HaveOccurred(), "%v ran as nobody", args)
			Expect(errb.String()).To(ContainSubstring("gwlb-lab " + args[0] + " needs root"))
			Expect(errb.String()).To(ContainSubstring("run it with sudo"))
			Expect(errb.String()).NotTo(ContainSubstring("permission denied"))
		}
	})

	It("exits 127 for a program that is not there and 126 for one that cannot run, as a shell does", func() {
		r := a.Exec("fw-1", "gwlb-lab-no-such-program", "arg")
		Expect(r.Code).To(Equal(127), r.Stderr)
		Expect(r.Stderr).To(Equal("gwlb-lab: gwlb-lab-no-such-program: command not found\n"))
		r = a.Exec("fw-1", "/etc/hostname")
		Expect(r.Code).To(Equal(126), r.Stderr)
		r = a.Exec("fw-1", "sh", "-c", "exit 127")
		Expect(r.Code).To(Equal(127), "the program's own status passes through")
	})

	It("names a missing node, target or endpoint once, without stuttering", func() {
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"exec", "--name", a.Name, "nope", "--", "true"}, `gwlb-lab: lab "` + a.Name + `" has no node "nope" (nodes: fw-1, fw-2)`},
			{[]string{"targets", "--name", a.Name, "deregister", "nope"}, `gwlb-lab: target "nope" is in no target group`},
			{[]string{"targets", "--name", a.Name, "register", "nope"}, `gwlb-lab: lab "` + a.Name + `" has no GWLB`},
			{[]string{"endpoints", "--name", a.Name, "accept", "nope"}, `gwlb-lab: gwlb endpoint "nope": not found`},
			{[]string{"capture", "--name", a.Name, "nope", "-w", "-", "-c", "1"}, `gwlb-lab: node "nope": not found`},
			{[]string{"logs", "--name", a.Name, "nope"}, `gwlb-lab: lab "` + a.Name + `" has no node "nope" (or say emulator)`},
		} {
			r := harness.Run(time.Minute, tt.args...)
			Expect(r.Code).To(Equal(1), "%v", tt.args)
			Expect(strings.TrimSpace(r.Stderr)).To(Equal(tt.want), "%v", tt.args)
		}
	})
})

var _ = Describe("several up of one lab name at once", func() {
	It("lets exactly one win, and the losers remove nothing of the winner's", func() {
		harness.RequireRoot()
		topo, err := os.ReadFile("testdata/fw.yaml")
		Expect(err).NotTo(HaveOccurred())
		const ups = 4
		for round := range 8 {
			name := harness.RandomName()
			DeferCleanup(func() { harness.Run(time.Minute, "down", "--name", name) })
			// Each up reads its topology from a FIFO of its own, so that
			// all of them start past reading it within microseconds:
			// the window a check-then-create race needs.
			dir := GinkgoT().TempDir()
			type result struct {
				code   int
				stderr string
			}
			done := make(chan result, ups)
			var writers []*os.File
			for i := range ups {
				fifo := filepath.Join(dir, fmt.Sprintf("lab-%d.yaml", i))
				Expect(syscall.Mkfifo(fifo, 0o600)).To(Succeed())
				cmd := exec.Command(harness.Binary(), "up", "-f", fifo, "--name", name)
				var errb bytes.Buffer
				cmd.Stderr = &errb
				Expect(cmd.Start()).To(Succeed())
				go func() {
					err := cmd.Wait()
					code := 0
					if ee, ok := err.(*exec.ExitError); ok {
						code = ee.ExitCode()
					} else if err != nil {
						code = -1
					}
					done <- result{code, errb.String()}
				}()
				// Opening for writing without blocking succeeds once
				// the up has opened it for reading.
				var w *os.File
				Eventually(func() error {
					w, err = os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
					return err
				}, time.Minute, time.Millisecond).Should(Succeed())
				writers = append(writers, w)
			}
			for _, w := range writers {
				_, err := w.Write(topo)
				Expect(err).NotTo(HaveOccurred())
			}
			for _, w := range writers {
				Expect(w.Close()).To(Succeed())
			}
			won := 0
			for range ups {
				r := <-done
				if r.code == 0 {
					won++
					continue
				}
				Expect(r.stderr).To(ContainSubstring(`lab "`+name+`": already exists (bring it down first`), "round %d", round)
				Expect(r.stderr).NotTo(ContainSubstring("removing what was made"), "round %d: a loser cleaned up", round)
			}
			Expect(won).To(Equal(1), "round %d: %d ups won", round, won)
			expectIntact(&harness.Lab{Name: name})
			r := harness.Run(time.Minute, "down", "--name", name)
			Expect(r.Code).To(Equal(0), r.Stderr)
		}
	})
})

// unprivilegedCopy returns a copy of the binary that any user can run (the
// one under test may sit in a directory only root can enter).
func unprivilegedCopy() string {
	GinkgoHelper()
	dir, err := os.MkdirTemp("", "gwlb-lab-nobody-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	Expect(os.Chmod(dir, 0o755)).To(Succeed())
	b, err := os.ReadFile(harness.Binary())
	Expect(err).NotTo(HaveOccurred())
	bin := filepath.Join(dir, "gwlb-lab")
	Expect(os.WriteFile(bin, b, 0o755)).To(Succeed())
	return bin
}
