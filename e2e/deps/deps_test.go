package deps

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

// frontendLock is the lock every apt frontend takes before touching dpkg.
const frontendLock = "/var/lib/dpkg/lock-frontend"

// requireApt skips unless the spec can run apt as root.
func requireApt() {
	harness.RequireRoot()
	for _, c := range []string{"apt-get", "lslocks"} {
		if _, err := exec.LookPath(c); err != nil {
			Skip("needs " + c + ": scripts/deps.sh installs with apt")
		}
	}
}

// holdFrontendLock takes the dpkg frontend lock the way dpkg and apt do (an
// fcntl write lock on the whole file) and returns its release. Another apt
// run on the machine may hold it for a while: wait for it, bounded.
func holdFrontendLock() (release func()) {
	f, err := os.OpenFile(frontendLock, os.O_RDWR, 0)
	Expect(err).NotTo(HaveOccurred())
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	Eventually(func() error {
		return unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
	}).WithTimeout(3*time.Minute).WithPolling(time.Second).Should(Succeed(), "another apt run kept %s", frontendLock)
	var once sync.Once
	// Closing the file drops the lock, and closing is what must happen
	// whether the spec passes or not.
	release = func() { once.Do(func() { _ = f.Close() }) }
	DeferCleanup(release)
	return release
}

// script is a run of scripts/deps.sh in the background.
type script struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

func startDeps(env []string, args ...string) *script {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	DeferCleanup(cancel)
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(harness.RepoRoot(), "scripts", "deps.sh")}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	s := &script{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	Expect(cmd.Start()).To(Succeed())
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	DeferCleanup(func() {
		cancel()
		<-s.done
	})
	return s
}

func (s *script) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

var _ = Describe("scripts/deps.sh", func() {
	It("waits for the Debian package lock another apt run holds, says so, and then succeeds", func() {
		requireApt()
		release := holdFrontendLock()

		// DEPS_ALWAYS_APT makes it run apt-get even though every package is
		// present, so it needs the lock like a real installation.
		s := startDeps([]string{"DEPS_ALWAYS_APT=1", "DEPS_LOCK_TIMEOUT=90"}, "test")
		Eventually(s.out.String).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).
			Should(ContainSubstring("deps: waiting up to 90s for the Debian package lock, held by "))
		// While the lock is held it neither fails nor goes ahead.
		Consistently(s.exited).WithTimeout(3*time.Second).WithPolling(100*time.Millisecond).Should(BeFalse(), "output: %s", s.out)

		release()
		Eventually(s.exited).WithTimeout(90 * time.Second).WithPolling(100 * time.Millisecond).Should(BeTrue())
		Expect(s.err).NotTo(HaveOccurred(), "output: %s", s.out)
	})

	It("gives up with a clear message when the lock outlives its timeout", func() {
		requireApt()
		holdFrontendLock()
		s := startDeps([]string{"DEPS_ALWAYS_APT=1", "DEPS_LOCK_TIMEOUT=1"}, "lab")
		Eventually(s.exited).WithTimeout(60 * time.Second).WithPolling(100 * time.Millisecond).Should(BeTrue())
		Expect(s.err).To(HaveOccurred())
		Expect(s.out.String()).To(ContainSubstring("deps: the Debian package lock was still held after 1s"))
	})

	It("installs what the quickstart runs (tcpdump, curl) for make lab-up when they are missing", func() {
		requireApt()
		// A PATH without tcpdump and curl makes them look missing; apt then
		// finds them installed and changes nothing.
		bin := GinkgoT().TempDir()
		for _, c := range []string{"bash", "id", "mktemp", "rm", "cat", "grep", "awk", "sleep", "apt-get", "lslocks"} {
			p, err := exec.LookPath(c)
			Expect(err).NotTo(HaveOccurred())
			Expect(os.Symlink(p, filepath.Join(bin, c))).To(Succeed())
		}
		s := startDeps([]string{"PATH=" + bin}, "lab")
		Eventually(s.exited).WithTimeout(90 * time.Second).WithPolling(100 * time.Millisecond).Should(BeTrue())
		Expect(s.err).NotTo(HaveOccurred(), "output: %s", s.out)
		Expect(s.out.String()).To(MatchRegexp(`deps: installing (tcpdump curl|curl tcpdump)\n`))

		// With them on the PATH it has nothing to do, and says nothing.
		s = startDeps(nil, "lab")
		Eventually(s.exited).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(BeTrue())
		Expect(s.err).NotTo(HaveOccurred(), "output: %s", s.out)
		Expect(s.out.String()).To(BeEmpty())
	})

	It("is what make lab-up and make test run", func() {
		out, err := exec.Command("make", "-C", harness.RepoRoot(), "-n", "lab-up", "test").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "%s", out)
		Expect(string(out)).To(ContainSubstring("bash scripts/deps.sh lab\n"))
		Expect(string(out)).To(ContainSubstring("bash scripts/deps.sh test\n"))
	})
})

// syncBuffer is a bytes.Buffer the script's output goroutines and the spec
// can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
