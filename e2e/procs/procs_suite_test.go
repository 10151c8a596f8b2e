package procs

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestProcs(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "process tracking e2e")
}
