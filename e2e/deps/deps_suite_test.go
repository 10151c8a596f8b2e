package deps

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestDeps(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Debian package installation e2e")
}
