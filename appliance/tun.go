package appliance

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// TunnelMTU is the MTU of the tunnel devices: the largest inner packet a
// GWLB carries (spec §5), as gwlbtun sets it.
const TunnelMTU = 8500

// openTUN makes the layer-3 TUN device name (no packet information header:
// each read and write is one IP packet), sets its MTU and brings it up.
// The device lives as long as the returned file is open.
func openTUN(name string) (io.ReadWriteCloser, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun (the node needs the device and CAP_NET_ADMIN): %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("tunnel device %s: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("create tunnel device %s (needs CAP_NET_ADMIN): %w", name, err)
	}
	// Non-blocking, so that the runtime's poller serves reads and Close
	// ends a read in progress.
	f := os.NewFile(uintptr(fd), "/dev/net/tun:"+name)
	if err := linkUp(name, TunnelMTU); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// linkUp sets the MTU of device name and brings it up.
func linkUp(name string, mtu int) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("tunnel device %s: %w", name, err)
	}
	defer unix.Close(s)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("tunnel device %s: %w", name, err)
	}
	ifr.SetUint32(uint32(mtu))
	if err := unix.IoctlIfreq(s, unix.SIOCSIFMTU, ifr); err != nil {
		return fmt.Errorf("tunnel device %s: set MTU %d: %w", name, mtu, err)
	}
	if err := unix.IoctlIfreq(s, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("tunnel device %s: read flags: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(s, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("tunnel device %s: bring up: %w", name, err)
	}
	return nil
}
