package gwlb

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/internal/docscheck"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// recipe returns the lab of docs/appliances.md with the node recipe that
// defines node in it, as a topology file.
func recipe(node string) string {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join(harness.RepoRoot(), "docs", "appliances.md"))
	Expect(err).NotTo(HaveOccurred())
	var lab, nodes string
	for _, bl := range docscheck.YAMLBlocks(string(b)) {
		switch {
		case bl.Kind == docscheck.SnippetLab && lab == "":
			lab = bl.Text
		case bl.Kind == docscheck.SnippetNode && strings.HasPrefix(bl.Text, node+":"):
			nodes = bl.Text
		}
	}
	Expect(lab).NotTo(BeEmpty(), "no lab in docs/appliances.md")
	Expect(nodes).NotTo(BeEmpty(), "no recipe for %s in docs/appliances.md", node)
	src, err := docscheck.WithNodes([]byte(lab), []byte(nodes))
	Expect(err).NotTo(HaveOccurred())
	file := filepath.Join(GinkgoT().TempDir(), node+".yaml")
	Expect(os.WriteFile(file, src, 0o644)).To(Succeed())
	return file
}

// The recipes of docs/appliances.md that need nothing but the host's
// iptables run as written.
var _ = Describe("the appliance recipes of docs/appliances.md", func() {
	It("the iptables hairpin, spelled out as a command, carries ingress and egress", func() {
		// The recipe answers health checks with gwlb-lab's echo server,
		// which it finds on the PATH.
		path := os.Getenv("PATH")
		DeferCleanup(os.Setenv, "PATH", path)
		Expect(os.Setenv("PATH", filepath.Dir(harness.Binary())+":"+path)).To(Succeed())

		l := harness.Up(recipe("hairpin-1"))
		l.WaitTarget("hairpin-1", "healthy")
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("remote 198.51.100.10:"))
		Expect(l.Curl("web", "http://198.51.100.10/")).To(ContainSubstring("remote 203.0.113.10:"))
		Expect(l.Flows()).NotTo(BeEmpty())
		// One rule pair per GWLB node, from GWLB_NODES.
		r := l.Exec("hairpin-1", "iptables", "-t", "nat", "-S", "PREROUTING")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("--to-destination 10.20.0.50:6081"))
		Expect(l.GWLBDrops()).To(HaveKeyWithValue("return_unknown_flow", BeZero()))
	})
})
