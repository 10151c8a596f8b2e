package appliancesuite

import (
	"os"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/gwlblab"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestAppliance(t *testing.T) {
	RegisterFailHandler(Fail)
	// Health checks, flow logs and failovers take seconds in lab.yaml's
	// time scale: wait up to 30 s for them.
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	RunSpecs(t, "appliance suite")
}

var _ = BeforeSuite(func() {
	if os.Geteuid() != 0 {
		Skip("a lab needs root (network namespaces): run the suite with sudo, or as root in CI")
	}
	// gwlblab.Up finds the binary the same way: $GWLB_LAB_BIN, else
	// gwlb-lab on PATH. Say so at once rather than in every spec.
	bin, err := gwlblab.FindBinary("")
	Expect(err).NotTo(HaveOccurred(), "install gwlb-lab (make install in its checkout) or set GWLB_LAB_BIN")
	GinkgoWriter.Printf("gwlb-lab binary: %s\n", bin)
})
