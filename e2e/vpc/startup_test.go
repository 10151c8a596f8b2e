package vpc

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// oneNode is the smallest lab: one VPC, one instance.
const oneNode = `
vpcs:
  v:
    cidr: 10.0.0.0/16
    subnets: {s: {az: az1, cidr: 10.0.1.0/24, route_table: main}}
    route_tables: {main: {}}
    instances: {a: {subnet: s}}
`

var _ = Describe("a program that dies while the lab starts", func() {
	It("leads up's error with the emulator's reason when it refuses a bad configuration", func() {
		harness.RequireRoot()
		dir := GinkgoT().TempDir()
		// The emulator is started through a wrapper that corrupts its
		// configuration the way a time_scale the topology no longer
		// accepts would: 2e10, which once made it panic in
		// time.NewTicker. The topology's own validation cannot be made to
		// pass such a value, hence the wrapper.
		wrapper := filepath.Join(dir, "gwlb-lab")
		Expect(os.WriteFile(wrapper, []byte(`#!/bin/sh
if [ "$1" = emulator ] && [ "$2" = --config ]; then
	sed 's/"time_scale": [0-9.e+-]*/"time_scale": 2e10/' "$3" > "$3.bad" || exit 3
	exec `+harness.Binary()+` emulator --config "$3.bad"
fi
exec `+harness.Binary()+` "$@"
`), 0o755)).To(Succeed())

		f, err := topology.Parse([]byte(oneNode), "one-node.yaml")
		Expect(err).NotTo(HaveOccurred())
		l, err := topology.Resolve(f, harness.RandomName())
		Expect(err).NotTo(HaveOccurred())
		m, err := lab.NewManager(lab.Options{StateRoot: filepath.Join(dir, "state"), Binary: wrapper,
			Progress: GinkgoWriter, ReadyTimeout: 30 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			// up removes what it made when it fails; down is the belt to
			// its braces (and says "no such lab" when nothing is left).
			_ = m.Down(context.Background(), l.Name)
			for _, n := range l.Nodes {
				Expect(filepath.Join("/run/netns", n.Netns)).NotTo(BeAnExistingFile())
			}
		})

		err = m.Up(context.Background(), l, "one-node.yaml", false)
		Expect(err).To(HaveOccurred())
		first, _, _ := strings.Cut(err.Error(), "\n")
		Expect(first).To(Equal("the emulator exited: gwlb-lab: time_scale must be between 0.01 and 1000, got 2e+10"),
			"the whole error:\n%s", err)
	})
})

var _ = Describe("a node program that exits before it is ready", func() {
	It("fails up at once with its exit code, not after the ready timeout", func() {
		harness.RequireRoot()
		dir := GinkgoT().TempDir()
		// The ready timeout is two minutes: only the fast path names the
		// exit code; the timeout's error says "does not listen".
		src := strings.Replace(oneNode, "instances: {a: {subnet: s}}",
			`instances: {a: {subnet: s, run: {command: [sh, -c, "echo giving up; exit 7"], ready: {tcp: 9, timeout: 120}}}}`, 1)
		f, err := topology.Parse([]byte(src), "one-node.yaml")
		Expect(err).NotTo(HaveOccurred())
		l, err := topology.Resolve(f, harness.RandomName())
		Expect(err).NotTo(HaveOccurred())
		m, err := lab.NewManager(lab.Options{StateRoot: filepath.Join(dir, "state"), Binary: harness.Binary(),
			Progress: GinkgoWriter, ReadyTimeout: 30 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() {
			_ = m.Down(context.Background(), l.Name)
			for _, n := range l.Nodes {
				Expect(filepath.Join("/run/netns", n.Netns)).NotTo(BeAnExistingFile())
			}
		})
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		err = m.Up(ctx, l, "one-node.yaml", false)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring(`node "a": its program exited with code 7 before it listened on port 9`), "the whole error:\n%s", err)
		Expect(err.Error()).To(ContainSubstring("giving up"))
	})
})

var _ = Describe("a gwlb-lab binary kept in /tmp", func() {
	It("still runs inside nodes whose /tmp is private, also when a shell starts it by path", func() {
		harness.RequireRoot()
		// Node programs get a /tmp of their own; a lab whose binary was
		// built under /tmp (a CI checkout there) must still find it from
		// inside a node, where only a shell names it.
		dir, err := os.MkdirTemp("/tmp", "gwlb-bin-")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(os.RemoveAll, dir)
		bin := filepath.Join(dir, "gwlb-lab")
		b, err := os.ReadFile(harness.Binary())
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(bin, b, 0o755)).To(Succeed())

		src := strings.Replace(oneNode, "instances: {a: {subnet: s}}",
			`instances: {a: {subnet: s, run: {command: [sh, -c, "exec `+bin+` echo --node a --http :8080 --udp :8080"], ready: {tcp: 8080, timeout: 20}}}}`, 1)
		f, err := topology.Parse([]byte(src), "one-node.yaml")
		Expect(err).NotTo(HaveOccurred())
		l, err := topology.Resolve(f, harness.RandomName())
		Expect(err).NotTo(HaveOccurred())
		m, err := lab.NewManager(lab.Options{StateRoot: filepath.Join(GinkgoT().TempDir(), "state"), Binary: bin,
			Progress: GinkgoWriter, ReadyTimeout: 20 * time.Second})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = m.Down(context.Background(), l.Name) })
		Expect(m.Up(context.Background(), l, "one-node.yaml", false)).To(Succeed())
	})
})
