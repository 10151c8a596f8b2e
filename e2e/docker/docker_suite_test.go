package docker

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestDocker(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "container nodes e2e")
}

// image is the gwlb-lab image of the binary under test, which BeforeSuite
// builds when it is missing.
var image string

var _ = BeforeSuite(func() {
	harness.RequireRoot()
	if _, err := exec.LookPath("docker"); err != nil {
		Skip("no docker command: container nodes need a Docker engine")
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		Skip("no Docker engine answers (docker info: " + strings.TrimSpace(string(out)) + ")")
	}
	// Only the content tag: a test run must not move gwlb-lab:latest.
	cmd := exec.Command("bash", filepath.Join(harness.RepoRoot(), "scripts", "images.sh"), harness.Binary(), "test")
	cmd.Env = append(os.Environ(), "IMAGES_CONTENT_ONLY=1")
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "scripts/images.sh: %s", out)
	// The script names the content tag first on its last line.
	Expect(string(out)).To(MatchRegexp(`gwlb-lab:bin-[0-9a-f]{16}`))
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "gwlb-lab:bin-") {
			image = strings.TrimSuffix(f, ")")
			break
		}
	}
	// The holders run it too; every gwlb-lab this suite runs inherits it.
	Expect(os.Setenv("GWLB_LAB_IMAGE", image)).To(Succeed())
	GinkgoWriter.Printf("image %s\n", image)
})
