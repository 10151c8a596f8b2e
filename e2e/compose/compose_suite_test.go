package compose

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestCompose(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "docker-compose e2e")
}

var (
	// image is the gwlb-lab-box image of the binary under test, which
	// BeforeSuite builds when it is missing.
	image string
	// composeArgv runs docker-compose: the standalone command, else the
	// plugin of the docker command.
	composeArgv []string
)

var _ = BeforeSuite(func() {
	harness.RequireRoot()
	if _, err := exec.LookPath("docker"); err != nil {
		Skip("no docker command: the compose file needs a Docker engine")
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		Skip("no Docker engine answers (docker info: " + strings.TrimSpace(string(out)) + ")")
	}
	switch {
	case exec.Command("docker-compose", "version").Run() == nil:
		composeArgv = []string{"docker-compose"}
	case exec.Command("docker", "compose", "version").Run() == nil:
		composeArgv = []string{"docker", "compose"}
	default:
		Skip("neither docker-compose nor the docker compose plugin is installed")
	}
	// Only the content tag: a test run must not move gwlb-lab-box:latest.
	// The first run on a machine makes the Debian base with debootstrap.
	cmd := exec.Command("bash", filepath.Join(harness.RepoRoot(), "scripts", "images.sh"), harness.Binary(), "test", "box")
	cmd.Env = append(os.Environ(), "IMAGES_CONTENT_ONLY=1")
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "scripts/images.sh: %s", out)
	m := regexp.MustCompile(`gwlb-lab-box:r-[0-9a-f]{16}`).FindString(string(out))
	Expect(m).NotTo(BeEmpty(), "scripts/images.sh named no gwlb-lab-box image: %s", out)
	image = m
	GinkgoWriter.Printf("image %s\n", image)
})
