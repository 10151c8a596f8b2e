package netns_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gleak"
	"golang.org/x/sys/unix"

	"github.com/gwlb-lab/gwlb-lab/lab/backend"
	"github.com/gwlb-lab/gwlb-lab/lab/backend/netns"
)

// stat returns fields 3.. of /proc/<pid>/stat (index 0 is the state), or nil
// when the process is gone.
func stat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	return strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
}

// running is false for a gone process and for a zombie: both run nothing.
func running(pid int) bool {
	f := stat(pid)
	return f != nil && f[0] != "Z" && f[0] != "X"
}

func readPID(path string) func() int {
	return func() int {
		b, err := os.ReadFile(path)
		if err != nil {
			return 0
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return pid
	}
}

func fileContent(path string) func() string {
	return func() string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
}

// track makes sure a started process is stopped and reaped when the spec
// ends, however it ends.
func track(p backend.Process) {
	DeferCleanup(func() {
		Expect(netns.Stop(p.PID(), p.StartTime(), 0)).To(Succeed())
		_ = p.Wait()
	})
}

var _ = Describe("processes", func() {
	var (
		f    *fixture
		node backend.Node
		dir  string
		ctx  = context.Background()
	)

	BeforeEach(func() {
		// Registered first, so it runs last: every goroutine Start and
		// Exec made must be gone once the processes are reaped.
		snapshot := Goroutines()
		DeferCleanup(func() {
			Eventually(Goroutines).ShouldNot(HaveLeaked(snapshot))
		})
		f = newFixture()
		node = f.create("n")
		dir = GinkgoT().TempDir()
	})

	It("runs a detached program in the namespace that outlives its context and is stopped with its group", func() {
		log := filepath.Join(dir, "node.log")
		childFile := filepath.Join(dir, "child.pid")
		Expect(os.WriteFile(log, []byte("earlier run\n"), 0o644)).To(Succeed())

		startCtx, cancel := context.WithCancel(ctx)
		p, err := node.Start(startCtx, backend.ProcSpec{
			Argv:    []string{"sh", "-c", `echo started; echo "to stderr" >&2; sleep 1000 & echo $! > "$1"; wait`, "sh", childFile},
			Env:     []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
			Dir:     dir,
			LogPath: log,
			Detach:  true,
		})
		Expect(err).NotTo(HaveOccurred())
		track(p)
		cancel()

		Expect(p.PID()).To(BeNumerically(">", 1))
		Expect(p.StartTime()).NotTo(BeZero())
		Expect(netns.Alive(p.PID(), p.StartTime())).To(BeTrue())

		// In the node's namespace, not ours.
		Expect(inode(fmt.Sprintf("/proc/%d/ns/net", p.PID()))).To(Equal(inode(node.NetNSPath())))
		// Its own session (and so group), stdin from /dev/null.
		fields := stat(p.PID())
		Expect(fields[5-3]).To(Equal(strconv.Itoa(p.PID())), "pgrp")
		Expect(fields[6-3]).To(Equal(strconv.Itoa(p.PID())), "session")
		Expect(os.Readlink(fmt.Sprintf("/proc/%d/fd/0", p.PID()))).To(Equal("/dev/null"))
		Expect(os.Readlink(fmt.Sprintf("/proc/%d/cwd", p.PID()))).To(Equal(dir))

		// Log appended, both streams.
		Eventually(fileContent(log)).Should(Equal("earlier run\nstarted\nto stderr\n"))
		Eventually(readPID(childFile)).ShouldNot(BeZero())
		child := readPID(childFile)()
		Expect(inode(fmt.Sprintf("/proc/%d/ns/net", child))).To(Equal(inode(node.NetNSPath())))

		// The Start context is gone; the program is not.
		Consistently(func() bool { return running(p.PID()) }, "300ms", "50ms").Should(BeTrue())

		t0 := time.Now()
		Expect(netns.Stop(p.PID(), p.StartTime(), 5*time.Second)).To(Succeed())
		Expect(time.Since(t0)).To(BeNumerically("<", 2*time.Second), "SIGTERM should do it, no need for the grace period")
		Expect(running(p.PID())).To(BeFalse())
		Expect(running(child)).To(BeFalse(), "the child in the group must be stopped too")
		Expect(netns.Alive(p.PID(), p.StartTime())).To(BeFalse())
		Expect(p.Wait()).To(MatchError(ContainSubstring("terminated")))
	})

	It("Node.Stop stops every process in the namespace, which stays with its links", func() {
		p, err := node.Start(ctx, backend.ProcSpec{Argv: []string{"sh", "-c", "setsid sleep 1000 & exec sleep 1001"}, Detach: true})
		Expect(err).NotTo(HaveOccurred())
		track(p)
		nss, err := netns.Identify([]string{node.NetNSPath()})
		Expect(err).NotTo(HaveOccurred())
		// The escaped sleep (its own session) is in the namespace too.
		Eventually(nss.Processes).Should(HaveLen(2))
		Expect(node.Stop(ctx, time.Second)).To(Succeed())
		Expect(netns.Alive(p.PID(), p.StartTime())).To(BeFalse())
		Expect(nss.Processes()).To(BeEmpty())
		alive, state, err := node.Alive(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(alive).To(BeTrue())
		Expect(state).To(Equal("namespace"))
	})

	It("Node.Pause stops every process in the namespace and Node.Unpause resumes them", func() {
		p, err := node.Start(ctx, backend.ProcSpec{Argv: []string{"sh", "-c", "setsid sleep 1000 & exec sleep 1001"}, Detach: true})
		Expect(err).NotTo(HaveOccurred())
		track(p)
		nss, err := netns.Identify([]string{node.NetNSPath()})
		Expect(err).NotTo(HaveOccurred())
		Eventually(nss.Processes).Should(HaveLen(2))
		pids, err := nss.Processes()
		Expect(err).NotTo(HaveOccurred())
		states := func() []string {
			var out []string
			for _, pid := range pids {
				out = append(out, stat(pid)[0])
			}
			return out
		}
		Expect(node.Pause(ctx)).To(Succeed())
		Eventually(states).Should(HaveEach("T"), "stopped by SIGSTOP")
		Expect(node.Pause(ctx)).To(Succeed(), "pausing twice is not an error")
		Expect(node.Unpause(ctx)).To(Succeed())
		Eventually(states).Should(HaveEach("S"), "sleeping again")
		Expect(node.Unpause(ctx)).To(Succeed(), "unpausing a running node is not an error")
		alive, _, err := node.Alive(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(alive).To(BeTrue())
	})

	It("escalates to SIGKILL after the grace period", func() {
		log := filepath.Join(dir, "node.log")
		p, err := node.Start(ctx, backend.ProcSpec{
			Argv:    []string{"sh", "-c", `trap "" TERM; echo ready; while :; do sleep 0.05; done`},
			LogPath: log,
			Detach:  true,
		})
		Expect(err).NotTo(HaveOccurred())
		track(p)
		// "ready" comes after the trap: from then on SIGTERM is ignored.
		Eventually(fileContent(log)).Should(Equal("ready\n"))
		t0 := time.Now()
		Expect(netns.Stop(p.PID(), p.StartTime(), 300*time.Millisecond)).To(Succeed())
		Expect(time.Since(t0)).To(BeNumerically(">=", 300*time.Millisecond))
		Expect(running(p.PID())).To(BeFalse())
		Expect(p.Wait()).To(MatchError(ContainSubstring("killed")))
	})

	It("does not stop a process whose start time differs", func() {
		p, err := node.Start(ctx, backend.ProcSpec{Argv: []string{"sleep", "1000"}, Detach: true})
		Expect(err).NotTo(HaveOccurred())
		track(p)

		Expect(netns.Stop(p.PID(), p.StartTime()+1, time.Second)).To(Succeed())
		Consistently(func() bool { return running(p.PID()) }, "200ms", "50ms").Should(BeTrue())
		Expect(netns.Alive(p.PID(), p.StartTime()+1)).To(BeFalse())
	})

	It("treats a gone PID as already stopped and refuses PIDs that mean a group or everyone", func() {
		cmd := exec.Command("true")
		Expect(cmd.Run()).To(Succeed())
		Expect(netns.Stop(cmd.Process.Pid, 12345, time.Second)).To(Succeed())
		for _, pid := range []int{-1, 0, 1} {
			Expect(netns.Stop(pid, 0, time.Second)).NotTo(Succeed(), "pid %d", pid)
		}
		Expect(netns.Stop(os.Getpid(), 0, time.Second)).NotTo(Succeed(), "never the caller itself")
	})

	It("kills an attached program's group when its context ends", func() {
		childFile := filepath.Join(dir, "child.pid")
		startCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		p, err := node.Start(startCtx, backend.ProcSpec{
			Argv: []string{"sh", "-c", `sleep 1000 & echo $! > "$1"; wait`, "sh", childFile},
		})
		Expect(err).NotTo(HaveOccurred())
		track(p)
		Expect(stat(p.PID())[5-3]).To(Equal(strconv.Itoa(p.PID())), "own process group")
		Eventually(readPID(childFile)).ShouldNot(BeZero())
		child := readPID(childFile)()

		cancel()
		done := make(chan error, 1)
		go func() { done <- p.Wait() }()
		Eventually(done, "5s").Should(Receive(MatchError(ContainSubstring("killed"))))
		Eventually(func() bool { return running(child) }).Should(BeFalse())
	})

	It("keeps a program running when the namespace is removed under it", func() {
		p, err := node.Start(ctx, backend.ProcSpec{Argv: []string{"sleep", "1000"}, Detach: true})
		Expect(err).NotTo(HaveOccurred())
		track(p)
		nsIno := inode(node.NetNSPath())

		Expect(f.b.Remove(ctx, node.Name())).To(Succeed())
		Expect(node.NetNSPath()).NotTo(BeAnExistingFile())
		Expect(running(p.PID())).To(BeTrue())
		Expect(inode(fmt.Sprintf("/proc/%d/ns/net", p.PID()))).To(Equal(nsIno), "the namespace lives on, unnamed")
	})

	It("rejects an empty argv and a missing program", func() {
		_, err := node.Start(ctx, backend.ProcSpec{})
		Expect(err).To(HaveOccurred())
		_, err = node.Start(ctx, backend.ProcSpec{Argv: []string{"/nonexistent/gwlb-lab-test"}, Detach: true})
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring(`"` + node.Name() + `"`))
	})

	Describe("Exec", func() {
		It("returns the exit code and the output", func() {
			var out, errOut bytes.Buffer
			code, err := node.Exec(ctx, []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, nil, &out, &errOut)
			Expect(err).NotTo(HaveOccurred())
			Expect(code).To(Equal(3))
			Expect(out.String()).To(Equal("out\n"))
			Expect(errOut.String()).To(Equal("err\n"))
		})

		It("runs in the node's namespace and reads stdin", func() {
			var out bytes.Buffer
			code, err := node.Exec(ctx, []string{"sh", "-c", "readlink /proc/self/ns/net; cat"}, strings.NewReader("from stdin"), &out, GinkgoWriter)
			Expect(err).NotTo(HaveOccurred())
			Expect(code).To(BeZero())
			Expect(out.String()).To(Equal(fmt.Sprintf("net:[%d]\nfrom stdin", inode(node.NetNSPath()))))
		})

		It("reports death by signal as 128+N", func() {
			code, err := node.Exec(ctx, []string{"sh", "-c", "kill -TERM $$"}, nil, nil, nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(code).To(Equal(128 + int(unix.SIGTERM)))
		})

		It("fails for a missing program and when the context ends", func() {
			_, err := node.Exec(ctx, []string{"/nonexistent/gwlb-lab-test"}, nil, nil, nil)
			Expect(err).To(HaveOccurred())

			tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			t0 := time.Now()
			_, err = node.Exec(tctx, []string{"sleep", "1000"}, nil, nil, nil)
			Expect(err).To(MatchError(context.DeadlineExceeded))
			Expect(time.Since(t0)).To(BeNumerically("<", 5*time.Second))
		})
	})
})
