package asg

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestASG(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Auto Scaling groups e2e")
}
