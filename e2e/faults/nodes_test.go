package faults

import (
	"context"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// ip runs ip(8) and expects it to succeed.
func ip(args ...string) {
	GinkgoHelper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "ip %v: %s", args, out)
}

var _ = Describe("nodes added at run time", func() {
	It("joins the emulator through a TAP in its own namespace, reaches its neighbour, and leaves", func() {
		l := harness.Up(defaultLab())
		// The namespace and TAP the lab side will make; named with the
		// lab's prefix and removed by this spec, which made them.
		ns := topology.NetnsName(l.Name, "extra")
		ip("netns", "add", ns)
		DeferCleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
		ip("-n", ns, "tuntap", "add", "dev", "eth0", "mode", "tap")
		ip("-n", ns, "link", "set", "eth0", "address", "02:00:00:01:00:32")
		ip("-n", ns, "addr", "add", "10.0.1.50/24", "dev", "eth0")
		ip("-n", ns, "link", "set", "eth0", "up")
		ip("-n", ns, "route", "add", "default", "via", "10.0.1.1")

		c := control.NewClient(filepath.Join(l.StateDir(), "control.sock"))
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var added api.Node
		Expect(c.Post(ctx, api.PathNodes, api.Node{Name: "extra", Subnet: "app", IP: "10.0.1.50",
			MAC: "02:00:00:01:00:32", NetNS: filepath.Join("/run/netns", ns)}, &added)).To(Succeed())
		Expect(added.VPC).To(Equal("consumer"))
		Expect(added.MTU).To(BeNumerically(">", 0))

		pingWeb := func() error {
			return exec.Command("ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", "1", "-W", "1", "10.0.1.10").Run()
		}
		Eventually(pingWeb).WithTimeout(20 * time.Second).Should(Succeed())
		_, ok := l.Counters().Port("extra")
		Expect(ok).To(BeTrue(), "the added node's port in the counters")
		// The lab's own traffic goes on: web still reaches the client.
		l.Ping("web", "198.51.100.10")

		// The next emulator opens the node's TAP again from the runtime
		// edits.
		cli(l, "emulator", "restart")
		Eventually(pingWeb).WithTimeout(20 * time.Second).Should(Succeed())
		var nodes []api.Node
		Expect(c.Get(ctx, api.PathNodes, &nodes)).To(Succeed())
		Expect(nodes).To(HaveLen(1))
		Expect(nodes[0].Name).To(Equal("extra"))

		Expect(c.Delete(ctx, api.NodePath("extra"), nil)).To(Succeed())
		Expect(pingWeb()).NotTo(Succeed(), "the removed node still reaches web")
		_, ok = l.Counters().Port("extra")
		Expect(ok).To(BeFalse(), "the removed node's port in the counters")
		l.Ping("web", "198.51.100.10")
	})
})
