package docker

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/gwlblab"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("a container node added at run time", func() {
	It("runs its image's appliance, answers exec, and leaves no container once removed; down removes another", func() {
		// Brought up here, not by harness.Up: the spec downs it itself.
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		l := &harness.Lab{Name: harness.RandomName()}
		DeferCleanup(func() { _ = exec.Command(harness.Binary(), "down", "--name", l.Name).Run() })
		_, err := gwlblab.Up(ctx, gwlblab.Options{File: filepath.Join(harness.RepoRoot(), "scenarios", "default.yaml"), Name: l.Name, Bin: harness.Binary()})
		Expect(err).NotTo(HaveOccurred())
		body := "container: {image: \"" + image + "\"}\nrun: {appliance: {}}\n"
		n, err2 := l.G().AddNode(ctx, gwlblab.NodeSpec{Name: "cfw", Subnet: "appliances", NodeYAML: body})
		Expect(err2).NotTo(HaveOccurred())
		Expect(n.Backend).To(Equal("docker"))
		Expect(n.Runtime).To(BeTrue())
		Expect(labContainers(l.Name)).To(ContainElement(containerName(l, "cfw")))
		Expect(l.Exec("cfw", "/gwlb-lab", "version").Stdout).To(ContainSubstring("gwlb-lab"))
		Expect(nodeStatus(l.Status(), "cfw").ContainerState).To(Equal("running"))

		Expect(l.G().RemoveNode(ctx, "cfw")).To(Succeed())
		for _, c := range labContainers(l.Name) {
			Expect(c).NotTo(HavePrefix(containerName(l, "cfw")))
		}
		_, err = os.Stat("/run/netns/" + containerName(l, "cfw"))
		Expect(os.IsNotExist(err)).To(BeTrue(), "the holder's namespace is left: %v", err)

		// Added and left to down.
		_, err = l.G().AddNode(ctx, gwlblab.NodeSpec{Name: "cfw2", Subnet: "appliances", NodeYAML: body})
		Expect(err).NotTo(HaveOccurred())
		Expect(l.G().Down(ctx)).To(Succeed())
		for _, c := range labContainers(l.Name) {
			Expect(strings.HasPrefix(c, containerName(l, ""))).To(BeFalse(), "container %s left after down", c)
		}
	})
})
