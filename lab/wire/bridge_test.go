package wire_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	cnins "github.com/containernetworking/plugins/pkg/ns"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gleak"
	"golang.org/x/sys/unix"

	"github.com/gwlb-lab/gwlb-lab/lab/backend"
	"github.com/gwlb-lab/gwlb-lab/lab/wire"
)

// openTAP attaches to the persistent TAP name inside the namespace at
// nsPath. The open must happen on a thread in that namespace; the returned
// file can be used from anywhere.
func openTAP(nsPath, name string) (*os.File, error) {
	var f *os.File
	err := cnins.WithNetNSPath(nsPath, func(cnins.NetNS) error {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			return err
		}
		// Must match the device's flags exactly, or TUNSETIFF fails.
		ifr.SetUint16(unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_MULTI_QUEUE)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			return fmt.Errorf("TUNSETIFF %q: %w", name, err)
		}
		// Non-blocking before os.NewFile, so the file uses the poller
		// and Close wakes a blocked Read.
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
			return err
		}
		f = os.NewFile(uintptr(fd), name)
		return nil
	})
	return f, err
}

// tapBridge is a two-port Ethernet wire in the test: every frame read from
// one TAP is written to the other. It stands in for the emulator.
type tapBridge struct {
	a, b *os.File
	wg   sync.WaitGroup
}

func startBridge(nsA, nsB string) (*tapBridge, error) {
	a, err := openTAP(nsA, wire.DefaultName)
	if err != nil {
		return nil, err
	}
	b, err := openTAP(nsB, wire.DefaultName)
	if err != nil {
		a.Close()
		return nil, err
	}
	br := &tapBridge{a: a, b: b}
	br.wg.Add(2)
	go br.copy(a, b)
	go br.copy(b, a)
	return br, nil
}

// copy ends when src is closed.
func (br *tapBridge) copy(src, dst *os.File) {
	defer br.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		// A frame the other side cannot take is dropped, as on a wire.
		if _, err := dst.Write(buf[:n]); errors.Is(err, os.ErrClosed) {
			return
		}
	}
}

// Close stops both copiers and waits for them.
func (br *tapBridge) Close() {
	br.a.Close()
	br.b.Close()
	br.wg.Wait()
}

// echoServer listens on addr inside the namespace and echoes one line per
// connection; it stops when the spec ends.
func echoServer(nsPath, network, addr string) string {
	GinkgoHelper()
	var ln net.Listener
	Expect(cnins.WithNetNSPath(nsPath, func(cnins.NetNS) error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})).To(Succeed())
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			_, _ = io.Copy(c, c)
			c.Close()
		}
	}()
	DeferCleanup(func() {
		ln.Close()
		// The client's FIN may never arrive once the wire is gone.
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// dialFrom connects from inside the namespace: the socket is made on a
// thread in it, then used from anywhere.
func dialFrom(nsPath, network, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := cnins.WithNetNSPath(nsPath, func(cnins.NetNS) error {
		d := net.Dialer{Timeout: timeout}
		var err error
		c, err = d.DialContext(context.Background(), network, addr)
		return err
	})
	return c, err
}

func roundTrip(c net.Conn, msg string) string {
	GinkgoHelper()
	Expect(c.SetDeadline(time.Now().Add(5 * time.Second))).To(Succeed())
	_, err := c.Write([]byte(msg))
	Expect(err).NotTo(HaveOccurred())
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(c, buf)
	Expect(err).NotTo(HaveOccurred())
	return string(buf)
}

var _ = Describe("two wired nodes", func() {
	It("talk through their TAPs over IPv4 and IPv6 when something copies frames between them", func() {
		snapshot := Goroutines()
		DeferCleanup(func() { Eventually(Goroutines).ShouldNot(HaveLeaked(snapshot)) })

		lab := randomLab()
		nodes := map[string]backend.Node{"a": newNode(lab, "a"), "b": newNode(lab, "b")}
		for name, host := range map[string]string{"a": "10", "b": "20"} {
			s := wire.PortSpec{
				MAC:      mustMAC("02:00:0a:00:01:" + host),
				IPv4:     netip.MustParsePrefix("10.0.1." + host + "/24"),
				IPv6:     netip.MustParsePrefix("fd00:1::" + host + "/64"),
				Gateway4: netip.MustParseAddr("10.0.1.1"),
				Gateway6: netip.MustParseAddr("fd00:1::1"),
			}
			Expect(wire.AddTAP(nodes[name].NetNSPath(), s)).To(Succeed())
			Expect(wire.SetForwarding(nodes[name].NetNSPath(), false, false)).To(Succeed())
		}

		br, err := startBridge(nodes["a"].NetNSPath(), nodes["b"].NetNSPath())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(br.Close)

		// Opening the TAP is what gives it a carrier.
		for _, n := range nodes {
			Eventually(func() (bool, error) {
				links, err := wire.Links(n.NetNSPath())
				if err != nil || len(links) < 2 {
					return false, err
				}
				return links[1].Carrier, nil
			}).Should(BeTrue(), "carrier on %q", n.Name())
		}

		for _, tc := range []struct{ network, listen string }{
			{"tcp4", "10.0.1.20:0"},
			{"tcp6", "[fd00:1::20]:0"},
		} {
			addr := echoServer(nodes["b"].NetNSPath(), tc.network, tc.listen)
			c, err := dialFrom(nodes["a"].NetNSPath(), tc.network, addr, 5*time.Second)
			Expect(err).NotTo(HaveOccurred(), "dial %s from %q", addr, nodes["a"].Name())
			Expect(roundTrip(c, "hello over "+tc.network)).To(Equal("hello over " + tc.network))
			local := c.LocalAddr().(*net.TCPAddr).IP.String()
			Expect(local).To(BeElementOf("10.0.1.10", "fd00:1::10"))
			Expect(c.Close()).To(Succeed())
		}

		// Without the wire there is no path: the namespaces are isolated.
		br.Close()
		addr := echoServer(nodes["b"].NetNSPath(), "tcp4", "10.0.1.20:0")
		c, err := dialFrom(nodes["a"].NetNSPath(), "tcp4", addr, 300*time.Millisecond)
		if c != nil {
			c.Close()
		}
		Expect(err).To(HaveOccurred())
	})
})
