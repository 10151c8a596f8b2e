package netns_test

import (
	"crypto/rand"
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
)

func TestNetns(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "lab/backend/netns")
}

var _ = BeforeSuite(func() {
	if os.Geteuid() != 0 {
		return
	}
	// Orphans of the programs under test (a shell's children) come to us
	// instead of PID 1, so the suite can reap them: in a container whose PID 1
	// does not reap, they would otherwise stay zombies.
	Expect(unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)).To(Succeed())
})

// The programs under test are all stopped and waited for by their specs;
// what is left are orphaned grandchildren (a shell's children) reparented to
// us. Reap them so nothing outlives the suite as a zombie.
var _ = AfterSuite(func() {
	for {
		pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
})

var _ = BeforeEach(func() {
	if os.Geteuid() != 0 {
		Skip("needs root: creates network namespaces under /run/netns")
	}
})

// randomLab returns a lab name like "tq3x9ab": a test touches only
// resources named gwlb-<that>-…, so parallel runs and real labs are safe.
func randomLab() string {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	_, err := rand.Read(b)
	Expect(err).NotTo(HaveOccurred())
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return "t" + string(b)
}
