package procs

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/lab"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("down leaves nothing running", func() {
	for _, m := range modes {
		Context(m.name, func() {
			It("after up is SIGKILLed between starting the emulator and recording it", func() {
				name, env := newLab(m)
				r := run(append(env, "GWLB_LAB_TEST_CRASH_AT="+lab.CrashEmulatorStarted), 3*time.Minute, "up", "-q", "-f", topo, "--name", name)
				Expect(r.Code).To(Equal(-1), "up should have been killed at the crash point: %s%s", r.Stdout, r.Stderr)
				downClean(name, env)
			})

			It("after up is SIGKILLed between starting a node program and recording it", func() {
				name, env := newLab(m)
				r := run(append(env, "GWLB_LAB_TEST_CRASH_AT="+lab.CrashProgramStarted), 3*time.Minute, "up", "-q", "-f", topo, "--name", name)
				Expect(r.Code).To(Equal(-1), "up should have been killed at the crash point: %s%s", r.Stdout, r.Stderr)
				downClean(name, env)
			})

			It("stops a daemon that a node program forked into its own session", func() {
				name, env := newLab(m)
				up(name, env, topo)
				// The daemon node's shell has exited; its sleep leads a
				// session of its own, out of every group the lab made.
				Eventually(func() []proc { return withCmdline(name, "sleep 1000") }, 10*time.Second, 20*time.Millisecond).
					Should(ConsistOf(Satisfy(func(p proc) bool { return p.sid == p.pid })))
				downClean(name, env)
			})

			It("stops the children of a node program whose recorded leader was killed", func() {
				name, env := newLab(m)
				up(name, env, topo)
				Eventually(func() int {
					return len(withCmdline(name, "sleep 1002")) + len(withCmdline(name, "sleep 1003"))
				}, 10*time.Second, 20*time.Millisecond).Should(Equal(2))
				sh := withCmdline(name, "sleep 1002")[0].ppid
				s, _ := status(name)
				leader := nodeStatus(s, "family").PID
				Expect(leader).NotTo(BeZero())
				Expect(syscall.Kill(leader, syscall.SIGKILL)).To(Succeed())
				Expect(syscall.Kill(sh, syscall.SIGKILL)).To(Succeed())
				// The recorded process and the program's leader are gone;
				// the children live on, orphans.
				Eventually(func() []proc { return withCmdline(name, "sh -c sleep 1002 & sleep 1003 & wait") }, 10*time.Second, 20*time.Millisecond).Should(BeEmpty())
				Expect(withCmdline(name, "sleep 1002")).To(HaveLen(1))
				Expect(withCmdline(name, "sleep 1003")).To(HaveLen(1))
				downClean(name, env)
			})

			for _, damage := range []struct {
				what string
				cut  func([]byte) []byte
			}{
				{"empty", func([]byte) []byte { return nil }},
				{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
			} {
				It("works from a state file that is "+damage.what, func() {
					name, env := newLab(m)
					up(name, env, topo)
					Eventually(func() []proc { return withCmdline(name, "sleep 1000") }, 10*time.Second, 20*time.Millisecond).Should(HaveLen(1))
					state := filepath.Join(lab.DefaultStateRoot, name, "state.json")
					b, err := os.ReadFile(state)
					Expect(err).NotTo(HaveOccurred())
					Expect(os.WriteFile(state, damage.cut(b), 0o600)).To(Succeed())
					downClean(name, env)
				})
			}
		})
	}
})

var _ = Describe("status", func() {
	It("shows a node program's exit code once it has exited", func() {
		name, env := newLab(modes[0])
		up(name, env, topo)
		Eventually(func() *int {
			s, _ := status(name)
			return nodeStatus(s, "three").ExitCode
		}, 10*time.Second, 50*time.Millisecond).Should(HaveValue(Equal(3)))
		s, code := status(name)
		Expect(code).To(Equal(0), "a lab whose emulator runs is not degraded")
		Expect(nodeStatus(s, "three").Running).To(BeFalse())
		Expect(nodeStatus(s, "web").Running).To(BeTrue())
		Expect(nodeStatus(s, "web").ExitCode).To(BeNil())

		r := harness.Run(time.Minute, "status", "--name", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(MatchRegexp(`(?m)^three .* exited \(code 3\)$`))
	})
})

var _ = Describe("a node program", func() {
	It("sees neither its own lab's control socket nor another lab's", func() {
		other, otherEnv := newLab(modes[0])
		up(other, otherEnv, topo)
		name, env := newLab(modes[0])
		// The program looks for both labs' sockets and state, then stays.
		probe := "ls -aR " + lab.DefaultStateRoot + "; " +
			"for lab in " + name + " " + other + "; do " +
			"test -e " + lab.DefaultStateRoot + "/$lab/control.sock && echo SOCKET-VISIBLE $lab; " +
			"test -e " + lab.DefaultStateRoot + "/$lab/state.json && echo STATE-VISIBLE $lab; " +
			"done; echo probe done; exec sleep 1000"
		file := harness.Variant(topo, `"exit 3"`, `"`+probe+`"`)
		up(name, env, file)
		for _, lab := range []string{name, other} {
			Expect(filepath.Join("/run/gwlb-lab", lab, "control.sock")).To(BeAnExistingFile(), "the socket exists on the host")
		}
		log := filepath.Join(lab.DefaultStateRoot, name, "logs", "three.log")
		Eventually(func() string {
			b, _ := os.ReadFile(log)
			return string(b)
		}, 10*time.Second, 50*time.Millisecond).Should(ContainSubstring("probe done"))
		b, err := os.ReadFile(log)
		Expect(err).NotTo(HaveOccurred())
		out := string(b)
		Expect(out).NotTo(ContainSubstring("VISIBLE"))
		Expect(out).NotTo(ContainSubstring("control.sock"))
		// Of its own lab it sees only its own working and log directories.
		own := map[string]bool{name: true}
		for _, d := range []string{"", "/logs", "/logs/three", "/nodes", "/nodes/three"} {
			own[lab.DefaultStateRoot+"/"+name+d+":"] = true
		}
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, name) {
				Expect(own).To(HaveKey(line), "nothing of the lab's own state but the node's directories shows:\n%s", out)
			}
		}
		Expect(out).NotTo(ContainSubstring("state.json"))
		Expect(strings.Count(out, other)).To(BeZero(), "nothing of the other lab shows:\n%s", out)
	})
})
