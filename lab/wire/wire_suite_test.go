package wire_test

import (
	"context"
	"crypto/rand"
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gwlb-lab/gwlb-lab/lab/backend"
	"github.com/gwlb-lab/gwlb-lab/lab/backend/netns"
)

func TestWire(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "lab/wire")
}

var _ = BeforeEach(func() {
	if os.Geteuid() != 0 {
		Skip("needs root: creates network namespaces and TAP devices")
	}
})

// randomLab returns a lab name like "tq3x9ab": tests touch only resources
// named gwlb-<that>-…, so parallel runs and real labs are safe.
func randomLab() string {
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return "t" + string(b)
}

// newNode creates gwlb-<lab>-<node> and removes it when the spec ends, pass
// or fail; removing the namespace also removes the TAPs in it.
func newNode(lab, node string) backend.Node {
	GinkgoHelper()
	b := netns.New("")
	name := "gwlb-" + lab + "-" + node
	n, err := b.Create(context.Background(), backend.NodeSpec{Name: name})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(b.Remove, context.Background(), name)
	return n
}
