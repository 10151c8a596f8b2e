package gwlb

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestGWLB(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "GWLB on the wire e2e")
}
