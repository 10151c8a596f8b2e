package netns_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	cnins "github.com/containernetworking/plugins/pkg/ns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/gwlb-lab/gwlb-lab/lab/backend"
	"github.com/gwlb-lab/gwlb-lab/lab/backend/netns"
)

// fixture creates nodes of one random lab and removes them when the spec
// ends, pass or fail.
type fixture struct {
	b   *netns.Backend
	lab string
}

func newFixture() *fixture {
	return &fixture{b: netns.New(""), lab: randomLab()}
}

func (f *fixture) prefix() string { return "gwlb-" + f.lab + "-" }

func (f *fixture) create(node string) backend.Node {
	GinkgoHelper()
	name := f.prefix() + node
	n, err := f.b.Create(context.Background(), backend.NodeSpec{Name: name})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		Expect(f.b.Remove(context.Background(), name)).To(Succeed())
	})
	return n
}

func ipNetnsList() string {
	GinkgoHelper()
	out, err := exec.Command("ip", "netns", "list").CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
	return string(out)
}

func inode(path string) uint64 {
	GinkgoHelper()
	var st unix.Stat_t
	Expect(unix.Stat(path, &st)).To(Succeed())
	return st.Ino
}

var _ = Describe("Backend", func() {
	var f *fixture
	ctx := context.Background()

	BeforeEach(func() { f = newFixture() })

	It("creates a named namespace that ip netns sees, with loopback up", func() {
		n := f.create("a")
		Expect(n.Name()).To(Equal(f.prefix() + "a"))
		Expect(n.NetNSPath()).To(Equal(filepath.Join(netns.DefaultRunDir, n.Name())))
		Expect(cnins.IsNSorErr(n.NetNSPath())).To(Succeed())

		names, err := f.b.List(ctx, f.prefix())
		Expect(err).NotTo(HaveOccurred())
		Expect(names).To(Equal([]string{n.Name()}))
		Expect(ipNetnsList()).To(ContainSubstring(n.Name()))

		// From another process, the way a user would look.
		out, err := exec.Command("ip", "netns", "exec", n.Name(), "ip", "-o", "link", "show").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(strings.Count(string(out), "\n")).To(Equal(1), "a new namespace has only lo:\n%s", out)
		Expect(string(out)).To(MatchRegexp(`^1: lo: <LOOPBACK,UP,LOWER_UP>`))

		// And over netlink, bound to the namespace.
		nsh, err := vnetns.GetFromPath(n.NetNSPath())
		Expect(err).NotTo(HaveOccurred())
		defer nsh.Close()
		h, err := netlink.NewHandleAt(nsh)
		Expect(err).NotTo(HaveOccurred())
		defer h.Close()
		lo, err := h.LinkByName("lo")
		Expect(err).NotTo(HaveOccurred())
		Expect(lo.Attrs().RawFlags & unix.IFF_UP).NotTo(BeZero())
	})

	It("is a different namespace from the caller's", func() {
		n := f.create("a")
		Expect(inode(n.NetNSPath())).NotTo(Equal(inode("/proc/self/ns/net")))
	})

	It("reports ErrExists for a name that is taken", func() {
		n := f.create("a")
		_, err := f.b.Create(ctx, backend.NodeSpec{Name: n.Name()})
		Expect(err).To(MatchError(backend.ErrExists))
		Expect(err.Error()).To(ContainSubstring(`"` + n.Name() + `"`))
	})

	It("opens existing namespaces and reports ErrNotFound for missing ones", func() {
		n := f.create("a")
		o, err := f.b.Open(ctx, n.Name())
		Expect(err).NotTo(HaveOccurred())
		Expect(o.NetNSPath()).To(Equal(n.NetNSPath()))
		_, err = f.b.Open(ctx, f.prefix()+"missing")
		Expect(err).To(MatchError(backend.ErrNotFound))
	})

	It("lists only names with the prefix", func() {
		a := f.create("a")
		b := f.create("b")
		names, err := f.b.List(ctx, f.prefix())
		Expect(err).NotTo(HaveOccurred())
		Expect(names).To(Equal([]string{a.Name(), b.Name()}))
		names, err = f.b.List(ctx, f.prefix()+"b")
		Expect(err).NotTo(HaveOccurred())
		Expect(names).To(Equal([]string{b.Name()}))
		names, err = f.b.List(ctx, "gwlb-"+randomLab()+"-")
		Expect(err).NotTo(HaveOccurred())
		Expect(names).To(BeEmpty())
	})

	It("removes idempotently and leaves nothing in /run/netns", func() {
		name := f.prefix() + "a"
		_, err := f.b.Create(ctx, backend.NodeSpec{Name: name})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(f.b.Remove, ctx, name) // in case an expectation fails

		Expect(f.b.Remove(ctx, name)).To(Succeed())
		Expect(f.b.Remove(ctx, name)).To(Succeed())
		Expect(filepath.Join(netns.DefaultRunDir, name)).NotTo(BeAnExistingFile())
		names, err := f.b.List(ctx, f.prefix())
		Expect(err).NotTo(HaveOccurred())
		Expect(names).To(BeEmpty())
		Expect(ipNetnsList()).NotTo(ContainSubstring(name))
		_, err = f.b.Open(ctx, name)
		Expect(err).To(MatchError(backend.ErrNotFound))
	})

	It("clears a stale file left by a crash between create and mount", func() {
		name := f.prefix() + "stale"
		path := filepath.Join(netns.DefaultRunDir, name)
		Expect(os.WriteFile(path, nil, 0o444)).To(Succeed())
		DeferCleanup(f.b.Remove, ctx, name) // in case an expectation fails

		_, err := f.b.Create(ctx, backend.NodeSpec{Name: name})
		Expect(err).To(MatchError(backend.ErrExists))
		_, err = f.b.Open(ctx, name)
		Expect(err).To(HaveOccurred())
		Expect(errors.Is(err, backend.ErrNotFound)).To(BeFalse())
		names, err := f.b.List(ctx, f.prefix())
		Expect(err).NotTo(HaveOccurred())
		Expect(names).To(ContainElement(name))

		Expect(f.b.Remove(ctx, name)).To(Succeed())
		Expect(path).NotTo(BeAnExistingFile())
	})

	It("rejects names that are not a single plain path element", func() {
		for _, name := range []string{"", ".", "..", "../" + f.prefix() + "x", f.prefix() + "a/b", f.prefix() + "a b", strings.Repeat("x", 200)} {
			_, err := f.b.Create(ctx, backend.NodeSpec{Name: name})
			Expect(err).To(HaveOccurred(), "name %q", name)
			Expect(f.b.Remove(ctx, name)).NotTo(Succeed(), "name %q", name)
		}
		names, err := f.b.List(ctx, f.prefix())
		Expect(err).NotTo(HaveOccurred())
		Expect(names).To(BeEmpty())
	})

	It("honours a cancelled context", func() {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := f.b.Create(cctx, backend.NodeSpec{Name: f.prefix() + "a"})
		Expect(err).To(MatchError(context.Canceled))
		Expect(filepath.Join(netns.DefaultRunDir, f.prefix()+"a")).NotTo(BeAnExistingFile())
	})
})
