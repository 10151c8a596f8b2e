package wire

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"

	cnins "github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

const (
	// DefaultName is the name of a node's only port, as on an EC2
	// instance.
	DefaultName = "eth0"
	// DefaultMTU is the VPC MTU (jumbo frames inside a VPC).
	DefaultMTU = 9001
	// maxMTU is the largest MTU a TAP device accepts.
	maxMTU = 65521
)

// ErrConflict is returned when an interface of the port's name exists in the
// namespace but is not a persistent, single-queue, no-PI TAP: AddTAP never
// replaces something it did not make.
var ErrConflict = errors.New("interface exists and is not a lab TAP")

// PortSpec is one port of a node.
type PortSpec struct {
	// Name is the interface name inside the node; "" means DefaultName.
	Name string
	// MAC is the port's unicast Ethernet address.
	MAC net.HardwareAddr
	// MTU; 0 means DefaultMTU.
	MTU int
	// IPv4 is the port's address with its subnet's prefix length,
	// e.g. 10.0.1.10/24.
	IPv4 netip.Prefix
	// IPv6 is optional (the zero Prefix means none), e.g. 2001:db8:1::10/64.
	IPv6 netip.Prefix
	// Gateway4 is the subnet router (the first usable address in a VPC);
	// the zero Addr means no default route. It must lie in IPv4's subnet.
	Gateway4 netip.Addr
	// Gateway6 is optional; it needs IPv6 and must lie in its subnet.
	Gateway6 netip.Addr
}

func (s PortSpec) withDefaults() PortSpec {
	if s.Name == "" {
		s.Name = DefaultName
	}
	if s.MTU == 0 {
		s.MTU = DefaultMTU
	}
	return s
}

func (s PortSpec) validate() error {
	if len(s.Name) >= unix.IFNAMSIZ || strings.ContainsAny(s.Name, "/: \t\n") || s.Name == "." || s.Name == ".." {
		return fmt.Errorf("port %q: invalid interface name", s.Name)
	}
	if len(s.MAC) != 6 || s.MAC[0]&1 != 0 || bytes.Equal(s.MAC, make([]byte, 6)) {
		return fmt.Errorf("port %q: MAC %q is not a unicast Ethernet address", s.Name, s.MAC)
	}
	minMTU := 68
	if s.IPv6.IsValid() {
		minMTU = 1280 // below it the kernel disables IPv6 on the link
	}
	if s.MTU < minMTU || s.MTU > maxMTU {
		return fmt.Errorf("port %q: MTU %d out of range [%d, %d]", s.Name, s.MTU, minMTU, maxMTU)
	}
	if !s.IPv4.IsValid() || !s.IPv4.Addr().Is4() {
		return fmt.Errorf("port %q: IPv4 address %q is not an IPv4 prefix", s.Name, s.IPv4)
	}
	if s.Gateway4.IsValid() {
		if !s.IPv4.Masked().Contains(s.Gateway4) || s.Gateway4 == s.IPv4.Addr() {
			return fmt.Errorf("port %q: gateway %q is not another address in subnet %q", s.Name, s.Gateway4, s.IPv4.Masked())
		}
	}
	if s.IPv6.IsValid() && (!s.IPv6.Addr().Is6() || s.IPv6.Addr().Is4In6()) {
		return fmt.Errorf("port %q: IPv6 address %q is not an IPv6 prefix", s.Name, s.IPv6)
	}
	if s.Gateway6.IsValid() {
		if !s.IPv6.IsValid() {
			return fmt.Errorf("port %q: IPv6 gateway %q without an IPv6 address", s.Name, s.Gateway6)
		}
		if !s.IPv6.Masked().Contains(s.Gateway6) || s.Gateway6 == s.IPv6.Addr() {
			return fmt.Errorf("port %q: gateway %q is not another address in subnet %q", s.Name, s.Gateway6, s.IPv6.Masked())
		}
	}
	return nil
}

// AddTAP creates the port as a persistent TAP inside the namespace at
// nsPath and configures it: IPv6 sysctls, MAC, MTU, up, addresses (IPv6
// without DAD, usable at once) and default routes via the gateways. Run again
// with the same or a changed spec, it converges the existing TAP to the spec.
// An interface of that name that is not a lab TAP gives an error wrapping
// ErrConflict.
func AddTAP(nsPath string, spec PortSpec) error {
	spec = spec.withDefaults()
	if err := spec.validate(); err != nil {
		return err
	}
	h, err := handleAt(nsPath)
	if err != nil {
		return err
	}
	defer h.Close()

	link, err := h.LinkByName(spec.Name)
	switch {
	case err == nil:
		if err := checkTAP(link); err != nil {
			return fmt.Errorf("port %q in %q: %w", spec.Name, nsPath, err)
		}
	case errors.As(err, new(netlink.LinkNotFoundError)):
		if err := createTAP(nsPath, spec.Name); err != nil {
			return err
		}
		if link, err = h.LinkByName(spec.Name); err != nil {
			return fmt.Errorf("find new port %q in %q: %w", spec.Name, nsPath, err)
		}
	default:
		return fmt.Errorf("find port %q in %q: %w", spec.Name, nsPath, err)
	}

	// Before the link comes up: the IPv6 settings decide what the kernel
	// sends when the carrier appears (DAD, router solicitations).
	if err := portSysctls(nsPath, spec); err != nil {
		return err
	}
	attrs := link.Attrs()
	if !bytes.Equal(attrs.HardwareAddr, spec.MAC) {
		if err := h.LinkSetHardwareAddr(link, spec.MAC); err != nil {
			return fmt.Errorf("set MAC %q on %q in %q: %w", spec.MAC, spec.Name, nsPath, err)
		}
	}
	if attrs.MTU != spec.MTU {
		if err := h.LinkSetMTU(link, spec.MTU); err != nil {
			return fmt.Errorf("set MTU %d on %q in %q: %w", spec.MTU, spec.Name, nsPath, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("bring %q up in %q: %w", spec.Name, nsPath, err)
	}
	if err := syncAddrs(h, link, netlink.FAMILY_V4, spec.IPv4, 0); err != nil {
		return fmt.Errorf("port %q in %q: %w", spec.Name, nsPath, err)
	}
	if spec.IPv6.IsValid() {
		// With IPv6 disabled (IPv4-only port) the kernel has no IPv6
		// addresses to converge.
		if err := syncAddrs(h, link, netlink.FAMILY_V6, spec.IPv6, unix.IFA_F_NODAD); err != nil {
			return fmt.Errorf("port %q in %q: %w", spec.Name, nsPath, err)
		}
	}
	if err := syncDefaultRoute(h, link, spec.Gateway4, 32); err != nil {
		return fmt.Errorf("port %q in %q: %w", spec.Name, nsPath, err)
	}
	if spec.IPv6.IsValid() {
		if err := syncDefaultRoute(h, link, spec.Gateway6, 128); err != nil {
			return fmt.Errorf("port %q in %q: %w", spec.Name, nsPath, err)
		}
	}
	return nil
}

// checkTAP accepts only what createTAP makes.
func checkTAP(link netlink.Link) error {
	tap, ok := link.(*netlink.Tuntap)
	if !ok {
		return fmt.Errorf("%w: kind %q", ErrConflict, link.Type())
	}
	// Multi-queue or not: a lab made by an older binary has single-queue
	// TAPs, which the emulator still attaches to (with one queue).
	bad := tap.Flags & netlink.TUNTAP_VNET_HDR
	if tap.Mode != netlink.TUNTAP_MODE_TAP || tap.Flags&netlink.TUNTAP_NO_PI == 0 || bad != 0 || tap.NonPersist {
		return fmt.Errorf("%w: tuntap mode %v flags %#x persistent %v", ErrConflict, tap.Mode, uint16(tap.Flags), !tap.NonPersist)
	}
	return nil
}

// createTAP makes a persistent TAP named name in the namespace at nsPath.
// It must run on a thread inside the namespace: the device is created in the
// namespace of whoever opens /dev/net/tun, and a TAP cannot be moved later.
func createTAP(nsPath, name string) error {
	err := cnins.WithNetNSPath(nsPath, func(cnins.NetNS) error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open /dev/net/tun: %w", err)
		}
		// Closing the fd before TUNSETPERSIST succeeded deletes the
		// device again, so a failure below leaves nothing behind.
		defer unix.Close(fd)
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			return err
		}
		// IFF_TUN_EXCL: fail instead of attaching if a racing creator
		// made the device after our lookup. IFF_MULTI_QUEUE: the emulator
		// attaches several queues, one reader each; the kernel puts each
		// flow the node sends on one of them.
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_MULTI_QUEUE | unix.IFF_TUN_EXCL)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			return fmt.Errorf("TUNSETIFF: %w", err)
		}
		if err := unix.IoctlSetInt(fd, unix.TUNSETOWNER, 0); err != nil {
			return fmt.Errorf("TUNSETOWNER: %w", err)
		}
		if err := unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1); err != nil {
			return fmt.Errorf("TUNSETPERSIST: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create TAP %q in %q: %w", name, nsPath, err)
	}
	return nil
}

// syncAddrs makes want the only global address of family on link, keeping
// link-local ones (the kernel's own).
func syncAddrs(h *netlink.Handle, link netlink.Link, family int, want netip.Prefix, flags int) error {
	have, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(link, family) })
	if err != nil {
		return fmt.Errorf("list addresses: %w", err)
	}
	wantNet := ipNet(want)
	for i := range have {
		a := &have[i]
		if a.IP.IsLinkLocalUnicast() || (a.IP.Equal(wantNet.IP) && bytes.Equal(a.Mask, wantNet.Mask)) {
			continue
		}
		if err := h.AddrDel(link, a); err != nil {
			return fmt.Errorf("remove stale address %q: %w", a.IPNet, err)
		}
	}
	if err := h.AddrReplace(link, &netlink.Addr{IPNet: wantNet, Flags: flags}); err != nil {
		return fmt.Errorf("add address %q: %w", want, err)
	}
	return nil
}

// syncDefaultRoute makes gw the default route of its family on link; an
// invalid gw removes a default route of that family on link (bits says
// which family: 32 or 128).
func syncDefaultRoute(h *netlink.Handle, link netlink.Link, gw netip.Addr, bits int) error {
	dst := &net.IPNet{IP: net.IPv4zero.To4(), Mask: net.CIDRMask(0, 32)}
	family := netlink.FAMILY_V4
	if bits == 128 {
		dst = &net.IPNet{IP: net.IPv6zero, Mask: net.CIDRMask(0, 128)}
		family = netlink.FAMILY_V6
	}
	if !gw.IsValid() {
		routes, err := retryDump(func() ([]netlink.Route, error) {
			return h.RouteListFiltered(family, &netlink.Route{LinkIndex: link.Attrs().Index}, netlink.RT_FILTER_OIF)
		})
		if err != nil {
			return fmt.Errorf("list routes: %w", err)
		}
		for i := range routes {
			r := &routes[i]
			if r.Dst == nil || (r.Dst.IP.IsUnspecified() && ones(r.Dst) == 0) {
				if err := h.RouteDel(r); err != nil && !errors.Is(err, unix.ESRCH) {
					return fmt.Errorf("remove default route: %w", err)
				}
			}
		}
		return nil
	}
	// The kernel accepts a gateway route while the TAP has no carrier
	// (it is marked linkdown until the emulator opens the TAP).
	r := &netlink.Route{LinkIndex: link.Attrs().Index, Dst: dst, Gw: net.IP(gw.AsSlice())}
	if err := h.RouteReplace(r); err != nil {
		return fmt.Errorf("set default route via %q: %w", gw, err)
	}
	return nil
}

func ones(n *net.IPNet) int {
	o, _ := n.Mask.Size()
	return o
}

// Remove deletes the interface ifname from the namespace at nsPath. A
// missing interface, or a missing namespace, is not an error. Deleting a TAP
// the emulator still has open is fine: its reads then fail.
func Remove(nsPath, ifname string) error {
	h, err := handleAt(nsPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(ifname)
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("find %q in %q: %w", ifname, nsPath, err)
	}
	if err := h.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("remove %q in %q: %w", ifname, nsPath, err)
	}
	return nil
}

// Link is what status shows about one interface of a node.
type Link struct {
	Name  string
	Index int
	// Kind is netlink's link type: "tuntap", "device" (loopback), "veth"…
	Kind string
	MAC  net.HardwareAddr
	MTU  int
	// Up is the administrative state.
	Up bool
	// Carrier is the lower layer's state: for a TAP, whether some
	// process (the emulator) has it open.
	Carrier bool
	// Addrs are all addresses, link-local included.
	Addrs []netip.Prefix
}

// Links lists the interfaces of the namespace at nsPath, by index.
func Links(nsPath string) ([]Link, error) {
	h, err := handleAt(nsPath)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	links, err := retryDump(h.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links in %q: %w", nsPath, err)
	}
	out := make([]Link, 0, len(links))
	for _, l := range links {
		a := l.Attrs()
		addrs, err := retryDump(func() ([]netlink.Addr, error) { return h.AddrList(l, netlink.FAMILY_ALL) })
		if err != nil {
			return nil, fmt.Errorf("list addresses of %q in %q: %w", a.Name, nsPath, err)
		}
		lk := Link{
			Name:    a.Name,
			Index:   a.Index,
			Kind:    l.Type(),
			MAC:     a.HardwareAddr,
			MTU:     a.MTU,
			Up:      a.Flags&net.FlagUp != 0,
			Carrier: a.RawFlags&unix.IFF_LOWER_UP != 0,
		}
		for _, ad := range addrs {
			if p, ok := prefixOf(ad.IPNet); ok {
				lk.Addrs = append(lk.Addrs, p)
			}
		}
		out = append(out, lk)
	}
	return out, nil
}

// handleAt opens a route-netlink handle whose socket lives in the namespace
// at nsPath; it can then be used from any thread. A missing namespace wraps
// os.ErrNotExist.
//
// The socket is made on a cnins.Do thread rather than with
// netlink.NewHandleAt: NewHandleAt switches the caller's own thread and
// unlocks it even if switching back failed, which DESIGN §4.6 rules out.
func handleAt(nsPath string) (*netlink.Handle, error) {
	var h *netlink.Handle
	err := cnins.WithNetNSPath(nsPath, func(cnins.NetNS) error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if errors.As(err, new(cnins.NSPathNotExistErr)) {
		return nil, fmt.Errorf("open namespace %q: %w", nsPath, os.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("netlink handle in %q: %w", nsPath, err)
	}
	return h, nil
}

// retryDump repeats a netlink dump that the kernel interrupted because the
// table changed under it (a concurrent address or route change).
func retryDump[T any](dump func() ([]T, error)) ([]T, error) {
	var (
		out []T
		err error
	)
	for range 5 {
		out, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return out, err
}

func ipNet(p netip.Prefix) *net.IPNet {
	a := p.Addr()
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(p.Bits(), a.BitLen())}
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a.Unmap(), ones(n)), true
}
