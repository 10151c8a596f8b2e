package port

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// TestPortSuite runs the Ginkgo specs (the privileged TAP ones); the pipe
// tests are plain testing functions in the same package.
func TestPortSuite(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "port")
}
