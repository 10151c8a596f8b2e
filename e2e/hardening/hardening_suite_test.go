package hardening

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestHardening(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Hardening e2e")
}
