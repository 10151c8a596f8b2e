package docker

import (
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("up with a container node", func() {
	It("fails, naming the node and its last output, when the container's command exits at start", func() {
		// fw-1 and fw-2 run the image's command instead of the appliance:
		// one that exits at once with a usage error.
		file := harness.Variant(topo("containers.yaml"),
			"run: {appliance: {mode: forward, health_port: 80, flow_log: true}}\n        container: {image: "+`"`+image+`"`+", cap_add: [NET_ADMIN, NET_RAW]}",
			"container: {image: "+`"`+image+`"`+", command: [/gwlb-lab, no-such-verb]}")
		name := harness.RandomName()
		r := harness.Run(3*time.Minute, "up", "-f", file, "--name", name)
		DeferCleanup(func() { harness.Run(time.Minute, "down", "--name", name) })
		Expect(r.Code).NotTo(Equal(0), "up of a lab whose appliance container exits: %s", r.Stdout)
		Expect(r.Stderr).To(MatchRegexp(`node "fw-[12]": its container is exited \(1\)`))
		Expect(r.Stderr).To(ContainSubstring("no-such-verb"), "the container's last output")
		Expect(labContainers(name)).To(BeEmpty(), "a failed up removes its containers")
	})
})
