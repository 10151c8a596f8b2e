package wirecheck

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestWirecheck(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Wirecheck Suite")
}
