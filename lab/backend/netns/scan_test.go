package netns_test

import (
	"context"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/gwlb-lab/gwlb-lab/lab/backend"
	"github.com/gwlb-lab/gwlb-lab/lab/backend/netns"
)

var _ = Describe("finding processes without their PID", func() {
	ctx := context.Background()

	It("stops every process in a set of namespaces, also one that left its session", func() {
		f := newFixture()
		node := f.create("n")
		other := f.create("other")
		dir := GinkgoT().TempDir()
		daemonFile := filepath.Join(dir, "daemon.pid")
		p, err := node.Start(ctx, backend.ProcSpec{
			Argv:   []string{"sh", "-c", `setsid sh -c 'echo $$ > "$1"; exec sleep 1000' sh "$1" & exec sleep 1001`, "sh", daemonFile},
			Detach: true,
		})
		Expect(err).NotTo(HaveOccurred())
		track(p)
		bystander, err := other.Start(ctx, backend.ProcSpec{Argv: []string{"sleep", "1002"}, Detach: true})
		Expect(err).NotTo(HaveOccurred())
		track(bystander)
		Eventually(readPID(daemonFile)).ShouldNot(BeZero())
		daemon := readPID(daemonFile)()

		set, err := netns.Identify([]string{node.NetNSPath(), filepath.Join(netns.DefaultRunDir, f.prefix()+"missing")})
		Expect(err).NotTo(HaveOccurred())
		Expect(set).To(HaveLen(1), "a missing namespace is skipped")
		Expect(set.Processes()).To(ConsistOf(p.PID(), daemon))

		Expect(set.Stop(2 * time.Second)).To(Succeed())
		Expect(running(p.PID())).To(BeFalse())
		Expect(running(daemon)).To(BeFalse(), "the daemon in its own session is stopped too")
		Expect(running(bystander.PID())).To(BeTrue(), "another namespace's process is left alone")
	})

	It("stops whoever holds a file open, and only them", func() {
		f := newFixture()
		node := f.create("n")
		path := filepath.Join(GinkgoT().TempDir(), "hold")
		hold, err := os.Create(path)
		Expect(err).NotTo(HaveOccurred())
		holder, err := node.Start(ctx, backend.ProcSpec{Argv: []string{"sleep", "1000"}, Detach: true, ExtraFiles: []*os.File{hold}})
		Expect(err).NotTo(HaveOccurred())
		track(holder)
		hold.Close()
		other, err := node.Start(ctx, backend.ProcSpec{Argv: []string{"sleep", "1001"}, Detach: true})
		Expect(err).NotTo(HaveOccurred())
		track(other)

		holding, err := netns.Holding(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(holding(holder.PID())).To(BeTrue())
		Expect(holding(other.PID())).To(BeFalse())
		Expect(netns.StopMatching(holding, 2*time.Second)).To(Succeed())
		Expect(running(holder.PID())).To(BeFalse())
		Expect(running(other.PID())).To(BeTrue())

		missing, err := netns.Holding(path + ".missing")
		Expect(err).NotTo(HaveOccurred())
		Expect(missing).To(BeNil())
	})
})
