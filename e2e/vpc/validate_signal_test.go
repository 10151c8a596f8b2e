package vpc

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
)

var _ = Describe("validate of a file that never ends", func() {
	It("stops on SIGINT while it reads a pipe that never closes", func() {
		fifo := filepath.Join(GinkgoT().TempDir(), "topology.yaml")
		Expect(syscall.Mkfifo(fifo, 0o600)).To(Succeed())
		cmd := exec.Command(harness.Binary(), "validate", "-f", fifo)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		Expect(cmd.Start()).To(Succeed())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		exited := false
		DeferCleanup(func() {
			if !exited {
				_ = cmd.Process.Kill()
				<-done
			}
		})
		// A non-blocking open for writing succeeds once the command has
		// the pipe open for reading: by then its signal handler is in
		// place (it is the first thing main does). The writer stays open
		// and writes nothing, so the command's read never ends.
		var w *os.File
		Eventually(func() error {
			var err error
			w, err = os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			return err
		}).WithTimeout(10 * time.Second).WithPolling(10 * time.Millisecond).Should(Succeed())
		DeferCleanup(w.Close)

		Expect(cmd.Process.Signal(os.Interrupt)).To(Succeed())
		var err error
		Eventually(done).WithTimeout(10 * time.Second).Should(Receive(&err))
		exited = true
		var ee *exec.ExitError
		Expect(err).To(BeAssignableToTypeOf(ee))
		Expect(stderr.String()).To(ContainSubstring(`read topology "` + fifo + `": context canceled`))
	})
})
