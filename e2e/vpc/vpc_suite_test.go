package vpc

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestVPC(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "VPC fabric e2e")
}
