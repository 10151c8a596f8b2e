package port

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Helpers for the privileged tests and benchmarks. Everything they make
// lives in namespaces named gwlb-t<random>-<tag>, made here and removed by
// the caller's cleanup; nothing touches the host's own namespace.

const rootReason = "needs root: creates network namespaces, TAP and veth interfaces (run `go test` as root, as CI does)"

func isRoot() bool { return os.Geteuid() == 0 }

func uniqueName(tag string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "gwlb-t" + hex.EncodeToString(b[:]) + "-" + tag
}

// createNetNS makes a named network namespace and returns its path. The
// namespace is created on a goroutine locked to its thread that then exits
// without unlocking, so the runtime throws the thread away: no goroutine we
// do not own ever changes namespace.
func createNetNS(name string) (string, error) {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		h, err := netns.NewNamed(name)
		if err == nil {
			h.Close()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		return "", fmt.Errorf("create netns %q: %w", name, err)
	}
	return filepath.Join("/var/run/netns", name), nil
}

// deleteNetNS removes a namespace made by createNetNS; a missing one is not
// an error, so cleanups can run after a half-done setup.
func deleteNetNS(name string) error {
	if _, err := os.Stat(filepath.Join("/var/run/netns", name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return netns.DeleteNamed(name)
}

// handle returns a netlink handle bound to the namespace at path.
func handle(path string) (*netlink.Handle, error) {
	nsh, err := netns.GetFromPath(path)
	if err != nil {
		return nil, err
	}
	defer nsh.Close()
	return netlink.NewHandleAt(nsh)
}

// createTAP makes a persistent single-queue TAP in the namespace at path,
// as labs made before multi-queue TAPs did.
func createTAP(path, ifname string) error { return createTAPFlags(path, ifname, 0) }

// createMultiQueueTAP makes a persistent multi-queue TAP in the namespace
// at path, as the lab does before the emulator attaches.
func createMultiQueueTAP(path, ifname string) error {
	return createTAPFlags(path, ifname, unix.IFF_MULTI_QUEUE)
}

func createTAPFlags(path, ifname string, flags uint16) error {
	return ns.WithNetNSPath(path, func(ns.NetNS) error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		ifr, err := unix.NewIfreq(ifname)
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | flags)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			return fmt.Errorf("TUNSETIFF %q: %w", ifname, err)
		}
		return unix.IoctlSetInt(fd, unix.TUNSETPERSIST, 1)
	})
}

// createVeth makes a veth pair with one end in each namespace.
func createVeth(pathA, nameA, pathB, nameB string) error {
	h, err := handle(pathA)
	if err != nil {
		return err
	}
	defer h.Close()
	peerNS, err := netns.GetFromPath(pathB)
	if err != nil {
		return err
	}
	defer peerNS.Close()
	return h.LinkAdd(&netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: nameA},
		PeerName:      nameB,
		PeerNamespace: netlink.NsFd(peerNS),
	})
}

// deleteLink removes an interface; a missing one (or namespace) is fine.
func deleteLink(path, ifname string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	h, err := handle(path)
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(ifname)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return err
	}
	return h.LinkDel(l)
}

// linkUp disables IPv6 on the interface (so the kernel sends no router
// solicitations or MLD reports the tests would have to skip), sets its MTU
// and address (cidr may be empty), brings it up and returns its MAC.
func linkUp(path, ifname string, mtu int, cidr string) (net.HardwareAddr, error) {
	err := ns.WithNetNSPath(path, func(ns.NetNS) error {
		// /proc/sys/net shows the namespace of the thread that opens it.
		return os.WriteFile("/proc/sys/net/ipv6/conf/"+ifname+"/disable_ipv6", []byte("1"), 0o644)
	})
	if err != nil {
		return nil, err
	}
	h, err := handle(path)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	l, err := h.LinkByName(ifname)
	if err != nil {
		return nil, err
	}
	if err := h.LinkSetMTU(l, mtu); err != nil {
		return nil, err
	}
	if cidr != "" {
		addr, err := netlink.ParseAddr(cidr)
		if err != nil {
			return nil, err
		}
		if err := h.AddrAdd(l, addr); err != nil {
			return nil, err
		}
	}
	if err := h.LinkSetUp(l); err != nil {
		return nil, err
	}
	return l.Attrs().HardwareAddr, nil
}

// nsSocket is a raw AF_PACKET socket on an interface inside a namespace:
// the node's side of a port in the tests. Frames written to it leave the
// interface (towards the emulator); frames the emulator sends arrive on it.
type nsSocket struct {
	f *os.File
}

func openNSSocket(path, ifname string) (*nsSocket, error) {
	var fd int
	err := ns.WithNetNSPath(path, func(ns.NetNS) error {
		var err error
		fd, err = openPacketSocket(ifname)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &nsSocket{f: os.NewFile(uintptr(fd), "packet:"+ifname)}, nil
}

// openPacketSocket opens a non-blocking AF_PACKET socket bound to ifname in
// the current namespace, that ignores frames the host itself sends on the
// interface and hands frames it sends straight to the driver.
func openPacketSocket(ifname string) (int, error) {
	iface, err := net.InterfaceByName(ifname)
	if err != nil {
		return -1, err
	}
	proto := int(htons(unix.ETH_P_ALL))
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, proto)
	if err != nil {
		return -1, err
	}
	for _, opt := range []int{unix.PACKET_IGNORE_OUTGOING, unix.PACKET_QDISC_BYPASS} {
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, opt, 1); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("setsockopt %d: %w", opt, err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: iface.Index}); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *nsSocket) Close() error { return s.f.Close() }
