package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/gomega"
)

// measure is how long each throughput or rate measurement runs.
const measure = 3 * time.Second

// inNS runs fn on a thread inside the network namespace at path; sockets
// opened there stay in that namespace when used from other goroutines.
func inNS(path string, fn func() error) error {
	n, err := ns.GetNS(path)
	if err != nil {
		return err
	}
	defer n.Close()
	return n.Do(func(ns.NetNS) error { return fn() })
}

// tcpThroughput sends as much as it can from the client namespace to
// dst:port in the server namespace for d and returns bytes per second
// received.
func tcpThroughput(clientNS, serverNS, dst string, port int, d time.Duration) (float64, error) {
	var ln net.Listener
	if err := inNS(serverNS, func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		return 0, err
	}
	defer ln.Close()
	var received atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 256<<10)
		for {
			n, err := c.Read(buf)
			received.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	var c net.Conn
	if err := inNS(clientNS, func() (err error) {
		c, err = net.DialTimeout("tcp", net.JoinHostPort(dst, fmt.Sprint(port)), 10*time.Second)
		return err
	}); err != nil {
		return 0, err
	}
	buf := make([]byte, 64<<10)
	start := time.Now()
	_ = c.SetWriteDeadline(start.Add(d))
	for time.Since(start) < d {
		if _, err := c.Write(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			c.Close()
			return 0, err
		}
	}
	c.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	return float64(received.Load()) / time.Since(start).Seconds(), nil
}

// udpRate sends 64-byte datagrams as fast as it can for d and returns the
// datagrams per second that arrived.
func udpRate(clientNS, serverNS, dst string, port int, d time.Duration) (float64, error) {
	var pc net.PacketConn
	if err := inNS(serverNS, func() (err error) {
		pc, err = net.ListenPacket("udp", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		return 0, err
	}
	defer pc.Close()
	var received atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 2048)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	var c net.Conn
	if err := inNS(clientNS, func() (err error) {
		c, err = net.Dial("udp", net.JoinHostPort(dst, fmt.Sprint(port)))
		return err
	}); err != nil {
		return 0, err
	}
	defer c.Close()
	msg := make([]byte, 64)
	start := time.Now()
	for time.Since(start) < d {
		_, _ = c.Write(msg) // drops under load are what is measured
	}
	// Let what is in flight arrive before counting.
	deadline := time.Now().Add(2 * time.Second)
	for last := int64(-1); time.Now().Before(deadline) && received.Load() != last; {
		last = received.Load()
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	_ = pc.Close()
	wg.Wait()
	return float64(received.Load()) / elapsed.Seconds(), nil
}

// kernelChain builds client - r1 - fw - r2 - web: five namespaces joined by
// veth pairs and routed by the kernel, the same number of hops as client -
// IGW - endpoint - GWLB - appliance - GWLB - endpoint - web in the lab,
// with the same MTUs. It returns the namespace paths and web's address.
func kernelChain(b *testing.B) (client, web, webAddr string) {
	prefix := "gwlb-" + harness.RandomName() + "-"
	names := []string{"client", "r1", "fw", "r2", "web"}
	run := func(args ...string) {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			b.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	for _, n := range names {
		run("netns", "add", prefix+n)
		b.Cleanup(func() { _ = exec.Command("ip", "netns", "del", prefix+n).Run() })
		run("-n", prefix+n, "link", "set", "lo", "up")
	}
	// Link i joins names[i] (eth1, .1) and names[i+1] (eth0, .2) on 10.98.i.0/24.
	for i := 0; i+1 < len(names); i++ {
		left, right := prefix+names[i], prefix+names[i+1]
		mtu := "9001"
		if i == 0 {
			mtu = "1500" // the internet host's MTU in the lab
		}
		run("link", "add", "gl"+fmt.Sprint(i)+prefix[5:12], "netns", left, "mtu", mtu, "type", "veth",
			"peer", "name", "gr"+fmt.Sprint(i)+prefix[5:12], "netns", right, "mtu", mtu)
		run("-n", left, "link", "set", "gl"+fmt.Sprint(i)+prefix[5:12], "name", "eth1")
		run("-n", right, "link", "set", "gr"+fmt.Sprint(i)+prefix[5:12], "name", "eth0")
		run("-n", left, "addr", "add", fmt.Sprintf("10.98.%d.1/24", i), "dev", "eth1")
		run("-n", right, "addr", "add", fmt.Sprintf("10.98.%d.2/24", i), "dev", "eth0")
		run("-n", left, "link", "set", "eth1", "up")
		run("-n", right, "link", "set", "eth0", "up")
	}
	// Forward along the chain: everything beyond a hop goes to the next
	// namespace, everything before it back to the previous one.
	for i, n := range names {
		if i > 0 && i+1 < len(names) {
			run("netns", "exec", prefix+n, "sysctl", "-qw", "net.ipv4.ip_forward=1")
		}
		if i > 1 {
			run("-n", prefix+n, "route", "add", "10.98.0.0/24", "via", fmt.Sprintf("10.98.%d.1", i-1))
		}
		if i+1 < len(names) {
			run("-n", prefix+n, "route", "add", "default", "via", fmt.Sprintf("10.98.%d.2", i))
		}
	}
	return "/run/netns/" + prefix + "client", "/run/netns/" + prefix + "web", "10.98.3.2"
}

// BenchmarkDataPath measures client -> web TCP throughput and the small
// UDP packet rate through the GWLB and the reference appliance, then the
// same over a kernel-routed namespace chain of the same length, in the same
// run, and reports both and their ratios.
func BenchmarkDataPath(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: it builds namespaces")
	}
	RegisterTestingT(b)
	l := &harness.Lab{Name: harness.RandomName()}
	r := harness.Run(3*time.Minute, "up", "-q", "--name", l.Name)
	if r.Code != 0 {
		b.Fatalf("up: %s", r.Stderr)
	}
	b.Cleanup(func() { harness.Run(time.Minute, "down", "--name", l.Name) })
	lc, lw := "/run/netns/gwlb-"+l.Name+"-client", "/run/netns/gwlb-"+l.Name+"-web"
	l.Curl("client", "http://203.0.113.10/") // the path is up
	kc, kw, kaddr := kernelChain(b)

	for b.Loop() {
		gTCP, err := tcpThroughput(lc, lw, "203.0.113.10", 5001, measure)
		if err != nil {
			b.Fatal(err)
		}
		kTCP, err := tcpThroughput(kc, kw, kaddr, 5001, measure)
		if err != nil {
			b.Fatal(err)
		}
		gUDP, err := udpRate(lc, lw, "203.0.113.10", 5002, measure)
		if err != nil {
			b.Fatal(err)
		}
		kUDP, err := udpRate(kc, kw, kaddr, 5002, measure)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(gTCP*8/1e6, "gwlb-tcp-Mbit/s")
		b.ReportMetric(kTCP*8/1e6, "kernel-tcp-Mbit/s")
		b.ReportMetric(gTCP/kTCP, "tcp-ratio")
		b.ReportMetric(gUDP/1e3, "gwlb-udp-kpps")
		b.ReportMetric(kUDP/1e3, "kernel-udp-kpps")
		b.ReportMetric(gUDP/kUDP, "udp-ratio")
	}
}
