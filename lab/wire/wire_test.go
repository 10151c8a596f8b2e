package wire_test

import (
	"net"
	"net/netip"
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
	"github.com/gwlb-lab/gwlb-lab/lab/wire"
)

func mustMAC(s string) net.HardwareAddr {
	m, err := net.ParseMAC(s)
	if err != nil {
		panic(err)
	}
	return m
}

func spec() wire.PortSpec {
	return wire.PortSpec{
		MAC:      mustMAC("02:00:0a:00:01:0a"),
		IPv4:     netip.MustParsePrefix("10.0.1.10/24"),
		IPv6:     netip.MustParsePrefix("fd00:1::10/64"),
		Gateway4: netip.MustParseAddr("10.0.1.1"),
		Gateway6: netip.MustParseAddr("fd00:1::1"),
	}
}

func handle(n backend.Node) *netlink.Handle {
	GinkgoHelper()
	nsh, err := vnetns.GetFromPath(n.NetNSPath())
	Expect(err).NotTo(HaveOccurred())
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh, unix.NETLINK_ROUTE)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(h.Close)
	return h
}

// inNode runs a command in the node the way a user would, from another
// process, as an independent check of what netlink reports.
func inNode(n backend.Node, argv ...string) string {
	GinkgoHelper()
	out, err := exec.Command("ip", append([]string{"netns", "exec", n.Name()}, argv...)...).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), string(out))
	return strings.TrimSpace(string(out))
}

func prefixes(h *netlink.Handle, link netlink.Link, family int) []string {
	GinkgoHelper()
	addrs, err := h.AddrList(link, family)
	Expect(err).NotTo(HaveOccurred())
	var out []string
	for _, a := range addrs {
		if !a.IP.IsLinkLocalUnicast() {
			out = append(out, a.IPNet.String())
		}
	}
	return out
}

func defaultGateway(h *netlink.Handle, link netlink.Link, family int) string {
	GinkgoHelper()
	routes, err := h.RouteList(link, family)
	Expect(err).NotTo(HaveOccurred())
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			return r.Gw.String()
		}
	}
	return ""
}

var _ = Describe("AddTAP", func() {
	var (
		lab  string
		node backend.Node
	)
	BeforeEach(func() {
		lab = randomLab()
		node = newNode(lab, "a")
	})

	It("creates eth0 as a persistent TAP with the MAC, MTU, addresses and routes of the spec", func() {
		Expect(wire.AddTAP(node.NetNSPath(), spec())).To(Succeed())

		h := handle(node)
		link, err := h.LinkByName("eth0")
		Expect(err).NotTo(HaveOccurred())
		tap, ok := link.(*netlink.Tuntap)
		Expect(ok).To(BeTrue(), "kind %q", link.Type())
		Expect(tap.Mode).To(Equal(netlink.TUNTAP_MODE_TAP))
		Expect(tap.Flags & netlink.TUNTAP_NO_PI).NotTo(BeZero())
		Expect(tap.Flags & netlink.TUNTAP_MULTI_QUEUE).NotTo(BeZero())
		Expect(tap.Flags & netlink.TUNTAP_VNET_HDR).To(BeZero())
		Expect(tap.NonPersist).To(BeFalse())
		Expect(tap.Owner).To(BeZero())
		Expect(tap.HardwareAddr.String()).To(Equal("02:00:0a:00:01:0a"))
		Expect(tap.MTU).To(Equal(wire.DefaultMTU))
		Expect(tap.RawFlags & unix.IFF_UP).NotTo(BeZero())
		Expect(tap.RawFlags&unix.IFF_LOWER_UP).To(BeZero(), "no carrier until someone opens the TAP")

		Expect(prefixes(h, link, netlink.FAMILY_V4)).To(Equal([]string{"10.0.1.10/24"}))
		Expect(prefixes(h, link, netlink.FAMILY_V6)).To(Equal([]string{"fd00:1::10/64"}))
		v6, err := h.AddrList(link, netlink.FAMILY_V6)
		Expect(err).NotTo(HaveOccurred())
		for _, a := range v6 {
			Expect(a.Flags&unix.IFA_F_TENTATIVE).To(BeZero(), "%s must be usable at once", a.IPNet)
			if !a.IP.IsLinkLocalUnicast() {
				Expect(a.Flags&unix.IFA_F_NODAD).NotTo(BeZero(), "%s without DAD", a.IPNet)
			}
		}
		Expect(defaultGateway(h, link, netlink.FAMILY_V4)).To(Equal("10.0.1.1"))
		Expect(defaultGateway(h, link, netlink.FAMILY_V6)).To(Equal("fd00:1::1"))

		// The same, seen by iproute2 from inside the node.
		Expect(inNode(node, "ip", "-o", "-d", "link", "show", "eth0")).To(And(
			ContainSubstring("mtu 9001"), ContainSubstring("tun type tap pi off vnet_hdr off multi_queue numqueues 0"), ContainSubstring("persist on")))
		Expect(inNode(node, "ip", "route", "show", "default")).To(HavePrefix("default via 10.0.1.1 dev eth0"))
		Expect(inNode(node, "ip", "-6", "route", "show", "default")).To(HavePrefix("default via fd00:1::1 dev eth0"))
		Expect(inNode(node, "cat", "/proc/sys/net/ipv6/conf/eth0/accept_dad", "/proc/sys/net/ipv6/conf/eth0/router_solicitations",
			"/proc/sys/net/ipv6/conf/eth0/disable_ipv6")).To(Equal("0\n0\n0"))

		links, err := wire.Links(node.NetNSPath())
		Expect(err).NotTo(HaveOccurred())
		Expect(links).To(HaveLen(2))
		Expect(links[0].Name).To(Equal("lo"))
		eth0 := links[1]
		Expect(eth0.Name).To(Equal("eth0"))
		Expect(eth0.Kind).To(Equal("tuntap"))
		Expect(eth0.MAC.String()).To(Equal("02:00:0a:00:01:0a"))
		Expect(eth0.MTU).To(Equal(9001))
		Expect(eth0.Up).To(BeTrue())
		Expect(eth0.Carrier).To(BeFalse())
		Expect(eth0.Addrs).To(ContainElements(netip.MustParsePrefix("10.0.1.10/24"), netip.MustParsePrefix("fd00:1::10/64")))
	})

	It("is idempotent and converges an existing TAP to a changed spec", func() {
		Expect(wire.AddTAP(node.NetNSPath(), spec())).To(Succeed())
		Expect(wire.AddTAP(node.NetNSPath(), spec())).To(Succeed())
		h := handle(node)
		link, err := h.LinkByName("eth0")
		Expect(err).NotTo(HaveOccurred())
		idx := link.Attrs().Index
		Expect(prefixes(h, link, netlink.FAMILY_V4)).To(Equal([]string{"10.0.1.10/24"}))

		// New subnet, MAC and MTU; no IPv6 any more.
		s := wire.PortSpec{
			MAC:      mustMAC("02:00:0a:00:02:0a"),
			MTU:      1500,
			IPv4:     netip.MustParsePrefix("10.0.2.10/24"),
			Gateway4: netip.MustParseAddr("10.0.2.1"),
		}
		Expect(wire.AddTAP(node.NetNSPath(), s)).To(Succeed())
		link, err = h.LinkByName("eth0")
		Expect(err).NotTo(HaveOccurred())
		Expect(link.Attrs().Index).To(Equal(idx), "same device, not recreated")
		Expect(link.Attrs().HardwareAddr.String()).To(Equal("02:00:0a:00:02:0a"))
		Expect(link.Attrs().MTU).To(Equal(1500))
		Expect(prefixes(h, link, netlink.FAMILY_V4)).To(Equal([]string{"10.0.2.10/24"}))
		Expect(prefixes(h, link, netlink.FAMILY_V6)).To(BeEmpty())
		Expect(defaultGateway(h, link, netlink.FAMILY_V4)).To(Equal("10.0.2.1"))
		Expect(defaultGateway(h, link, netlink.FAMILY_V6)).To(BeEmpty())
		Expect(inNode(node, "cat", "/proc/sys/net/ipv6/conf/eth0/disable_ipv6")).To(Equal("1"))

		// And back to dual stack.
		Expect(wire.AddTAP(node.NetNSPath(), spec())).To(Succeed())
		Expect(prefixes(h, link, netlink.FAMILY_V6)).To(Equal([]string{"fd00:1::10/64"}))
		Expect(defaultGateway(h, link, netlink.FAMILY_V6)).To(Equal("fd00:1::1"))
	})

	DescribeTable("refuses to take over an eth0 that is not a lab TAP",
		func(add func(backend.Node), kind string) {
			add(node)
			err := wire.AddTAP(node.NetNSPath(), spec())
			Expect(err).To(MatchError(wire.ErrConflict))
			Expect(err.Error()).To(ContainSubstring(kind))
		},
		Entry("a veth", func(n backend.Node) {
			h := handle(n)
			Expect(h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, PeerName: "eth0peer"})).To(Succeed())
		}, `kind "veth"`),
		Entry("a TUN (layer 3) device", func(n backend.Node) {
			// Created on a thread inside the node: /dev/net/tun makes
			// the device in the opener's namespace.
			Expect(cnins.WithNetNSPath(n.NetNSPath(), func(cnins.NetNS) error {
				return netlink.LinkAdd(&netlink.Tuntap{LinkAttrs: netlink.LinkAttrs{Name: "eth0"}, Mode: netlink.TUNTAP_MODE_TUN, Flags: netlink.TUNTAP_NO_PI})
			})).To(Succeed())
		}, "tuntap mode tun"),
	)

	DescribeTable("rejects a bad spec before touching the node",
		func(mutate func(*wire.PortSpec), want string) {
			s := spec()
			mutate(&s)
			err := wire.AddTAP(node.NetNSPath(), s)
			Expect(err).To(MatchError(ContainSubstring(want)))
			links, lerr := wire.Links(node.NetNSPath())
			Expect(lerr).NotTo(HaveOccurred())
			Expect(links).To(HaveLen(1), "only lo")
		},
		Entry("multicast MAC", func(s *wire.PortSpec) { s.MAC = mustMAC("01:00:5e:00:00:01") }, "not a unicast"),
		Entry("missing MAC", func(s *wire.PortSpec) { s.MAC = nil }, "not a unicast"),
		Entry("no IPv4", func(s *wire.PortSpec) { s.IPv4 = netip.Prefix{} }, "not an IPv4 prefix"),
		Entry("IPv6 as IPv4", func(s *wire.PortSpec) { s.IPv4 = netip.MustParsePrefix("fd00::1/64") }, "not an IPv4 prefix"),
		Entry("gateway outside the subnet", func(s *wire.PortSpec) { s.Gateway4 = netip.MustParseAddr("10.0.2.1") }, "not another address in subnet"),
		Entry("gateway is the port", func(s *wire.PortSpec) { s.Gateway4 = netip.MustParseAddr("10.0.1.10") }, "not another address in subnet"),
		Entry("IPv6 gateway without IPv6", func(s *wire.PortSpec) { s.IPv6 = netip.Prefix{} }, "without an IPv6 address"),
		Entry("MTU too small for IPv6", func(s *wire.PortSpec) { s.MTU = 1000 }, "out of range"),
		Entry("MTU too large", func(s *wire.PortSpec) { s.MTU = 70000 }, "out of range"),
		Entry("name too long", func(s *wire.PortSpec) { s.Name = "eth0123456789abcdef" }, "invalid interface name"),
	)

	It("fails clearly for a namespace that does not exist", func() {
		missing := filepath.Join(GinkgoT().TempDir(), "gwlb-"+lab+"-missing")
		err := wire.AddTAP(missing, spec())
		Expect(err).To(MatchError(os.ErrNotExist))
		Expect(err.Error()).To(ContainSubstring(missing))
	})
})

var _ = Describe("Remove", func() {
	It("removes the port idempotently, also from a namespace that is gone", func() {
		lab := randomLab()
		node := newNode(lab, "a")
		Expect(wire.AddTAP(node.NetNSPath(), spec())).To(Succeed())
		Expect(wire.Remove(node.NetNSPath(), "eth0")).To(Succeed())
		Expect(wire.Remove(node.NetNSPath(), "eth0")).To(Succeed())
		links, err := wire.Links(node.NetNSPath())
		Expect(err).NotTo(HaveOccurred())
		Expect(links).To(HaveLen(1))
		Expect(links[0].Name).To(Equal("lo"))
		Expect(wire.Remove(filepath.Join(GinkgoT().TempDir(), "gwlb-"+lab+"-gone"), "eth0")).To(Succeed())
	})
})

var _ = Describe("SetForwarding", func() {
	It("sets forwarding in the node only", func() {
		node := newNode(randomLab(), "a")
		host, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
		Expect(err).NotTo(HaveOccurred())

		Expect(wire.SetForwarding(node.NetNSPath(), false, false)).To(Succeed())
		v4, v6, err := wire.Forwarding(node.NetNSPath())
		Expect(err).NotTo(HaveOccurred())
		Expect([]bool{v4, v6}).To(Equal([]bool{false, false}))
		Expect(inNode(node, "cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding")).To(Equal("0\n0"))

		Expect(wire.SetForwarding(node.NetNSPath(), true, true)).To(Succeed())
		v4, v6, err = wire.Forwarding(node.NetNSPath())
		Expect(err).NotTo(HaveOccurred())
		Expect([]bool{v4, v6}).To(Equal([]bool{true, true}))
		Expect(inNode(node, "cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding")).To(Equal("1\n1"))

		Expect(os.ReadFile("/proc/sys/net/ipv4/ip_forward")).To(Equal(host), "the host's setting is untouched")
	})
})
