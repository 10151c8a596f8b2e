package tgw

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestTGW(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Transit gateway e2e")
}
