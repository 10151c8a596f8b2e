package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// tcpThroughput opens streams connections from the client namespace to
// dst:port in the server namespace, sends as much as it can over each for d
// and returns the bytes per second received over all of them.
func tcpThroughput(clientNS, serverNS, dst string, port, streams int, d time.Duration) (float64, error) {
	var ln net.Listener
	if err := inNS(serverNS, func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		return 0, err
	}
	defer ln.Close()
	var received atomic.Int64
	var readers sync.WaitGroup
	readers.Add(streams)
	go func() {
		for range streams {
			c, err := ln.Accept()
			if err != nil {
				for range streams {
					readers.Done()
				}
				return
			}
			go func() {
				defer readers.Done()
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
		}
	}()
	conns := make([]net.Conn, 0, streams)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range streams {
		var c net.Conn
		if err := inNS(clientNS, func() (err error) {
			c, err = net.DialTimeout("tcp", net.JoinHostPort(dst, fmt.Sprint(port)), 10*time.Second)
			return err
		}); err != nil {
			return 0, err
		}
		conns = append(conns, c)
	}
	start := time.Now()
	errs := make(chan error, streams)
	for _, c := range conns {
		go func() {
			buf := make([]byte, 64<<10)
			_ = c.SetWriteDeadline(start.Add(d))
			for time.Since(start) < d {
				if _, err := c.Write(buf); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						break
					}
					errs <- err
					return
				}
			}
			c.Close()
			errs <- nil
		}()
	}
	for range streams {
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	done := make(chan struct{})
	go func() { readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	return float64(received.Load()) / time.Since(start).Seconds(), nil
}

// connRate opens TCP connections from the client namespace to dst:port in
// the server namespace from four goroutines for d, each one closed with a
// reset as soon as it is established (no TIME_WAIT to exhaust ports), and
// returns the connections established per second: the flow-setup rate.
func connRate(clientNS, serverNS, dst string, port int, d time.Duration) (float64, error) {
	var ln net.Listener
	if err := inNS(serverNS, func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		return 0, err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// Dialers need their sockets made in the client namespace: a Dialer's
	// Control runs on the dialing thread, so each dial is made from a thread
	// locked into the namespace.
	const workers = 4
	var established atomic.Int64
	errs := make(chan error, workers)
	start := time.Now()
	addr := net.JoinHostPort(dst, fmt.Sprint(port))
	for range workers {
		go func() {
			errs <- inNS(clientNS, func() error {
				var failures int
				for time.Since(start) < d {
					c, err := net.DialTimeout("tcp", addr, 2*time.Second)
					if err != nil {
						if failures++; failures > 100 {
							return fmt.Errorf("connections to %s keep failing: %w", addr, err)
						}
						continue
					}
					established.Add(1)
					_ = c.(*net.TCPConn).SetLinger(0)
					c.Close()
				}
				return nil
			})
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	return float64(established.Load()) / time.Since(start).Seconds(), nil
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
	run := netnsRunner(b)
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

// netnsRunner returns a function that runs ip(8) and fails b with its
// output when it fails.
func netnsRunner(b *testing.B) func(args ...string) {
	return func(args ...string) {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			b.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// vxlanHairpin builds the kernel's own version of the GWLB path:
//
//	client --1500-- gw ==vxlan over 9001== fw
//	                 \--9001-- web
//
// gw plays the endpoint and the load balancer: what arrives from client or
// web (policy rule by input interface) goes into a VXLAN tunnel to fw, the
// appliance, which routes the decapsulated inner packet straight back into
// the tunnel (a hairpin, no redirects); gw decapsulates it and routes it to
// its destination. All kernel, same MTUs as the lab (1500 at the client,
// 9001 beyond, the tunnel's inner MTU 50 bytes less). It returns the
// namespace paths, web's address, and a function that counts the packets
// fw's tunnel device has received (proof that the traffic went through it).
func vxlanHairpin(b *testing.B) (client, web, webAddr string, tunnelRx func() uint64) {
	prefix := "gwlb-" + harness.RandomName() + "-"
	tag := prefix[5:12]
	run := netnsRunner(b)
	sysctl := func(n string, kv ...string) {
		for _, s := range kv {
			if out, err := exec.Command("ip", "netns", "exec", prefix+n, "sysctl", "-qw", s).CombinedOutput(); err != nil {
				b.Fatalf("sysctl %s in %s: %v\n%s", s, n, err, out)
			}
		}
	}
	for _, n := range []string{"client", "gw", "fw", "web"} {
		run("netns", "add", prefix+n)
		b.Cleanup(func() { _ = exec.Command("ip", "netns", "del", prefix+n).Run() })
		run("-n", prefix+n, "link", "set", "lo", "up")
	}
	// link joins a (interface ai, address .1) and z (interface zi, .2) on
	// 10.97.<net>.0/24.
	link := func(net int, a, ai, z, zi, mtu string) {
		l, r := fmt.Sprintf("vl%d%s", net, tag), fmt.Sprintf("vr%d%s", net, tag)
		run("link", "add", l, "netns", prefix+a, "mtu", mtu, "type", "veth", "peer", "name", r, "netns", prefix+z, "mtu", mtu)
		run("-n", prefix+a, "link", "set", l, "name", ai)
		run("-n", prefix+z, "link", "set", r, "name", zi)
		run("-n", prefix+a, "addr", "add", fmt.Sprintf("10.97.%d.1/24", net), "dev", ai)
		run("-n", prefix+z, "addr", "add", fmt.Sprintf("10.97.%d.2/24", net), "dev", zi)
		run("-n", prefix+a, "link", "set", ai, "up")
		run("-n", prefix+z, "link", "set", zi, "up")
	}
	link(0, "gw", "eth0", "client", "eth0", "1500") // client 10.97.0.2
	link(1, "gw", "eth1", "web", "eth0", "9001")    // web 10.97.1.2
	link(2, "gw", "eth2", "fw", "eth0", "9001")     // underlay
	run("-n", prefix+"client", "route", "add", "default", "via", "10.97.0.1")
	run("-n", prefix+"web", "route", "add", "default", "via", "10.97.1.1")
	// The tunnel: point to point, inner addresses 10.97.9.1 (gw), .2 (fw).
	for _, e := range []struct{ n, local, remote, inner string }{
		{"gw", "10.97.2.1", "10.97.2.2", "10.97.9.1/24"},
		{"fw", "10.97.2.2", "10.97.2.1", "10.97.9.2/24"},
	} {
		run("-n", prefix+e.n, "link", "add", "vx0", "mtu", "8951", "type", "vxlan", "id", "42",
			"local", e.local, "remote", e.remote, "dstport", "4789", "dev", "eth"+map[string]string{"gw": "2", "fw": "0"}[e.n])
		run("-n", prefix+e.n, "addr", "add", e.inner, "dev", "vx0")
		run("-n", prefix+e.n, "link", "set", "vx0", "up")
	}
	sysctl("gw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
	sysctl("fw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
		"net.ipv4.conf.all.send_redirects=0", "net.ipv4.conf.vx0.send_redirects=0")
	// gw: traffic from client or web goes into the tunnel; what comes out
	// of it follows the main table to client or web.
	run("-n", prefix+"gw", "route", "add", "default", "via", "10.97.9.2", "dev", "vx0", "table", "100")
	run("-n", prefix+"gw", "rule", "add", "iif", "eth0", "table", "100")
	run("-n", prefix+"gw", "rule", "add", "iif", "eth1", "table", "100")
	// fw: everything goes back into the tunnel.
	run("-n", prefix+"fw", "route", "add", "default", "via", "10.97.9.1", "dev", "vx0")
	tunnelRx = func() uint64 {
		out, err := exec.Command("ip", "netns", "exec", prefix+"fw", "cat", "/sys/class/net/vx0/statistics/rx_packets").Output()
		if err != nil {
			b.Fatalf("read fw's vx0 counters: %v", err)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(string(out)), 10, 64)
		if err != nil {
			b.Fatalf("fw's vx0 rx_packets %q: %v", out, err)
		}
		return n
	}
	return "/run/netns/" + prefix + "client", "/run/netns/" + prefix + "web", "10.97.1.2", tunnelRx
}

// BenchmarkDataPath measures client -> web traffic through the GWLB and the
// reference appliance, through a kernel VXLAN hairpin (vxlanHairpin) and
// through a kernel-routed namespace chain of the same length (kernelChain),
// all in the same run, and reports each with the lab's ratios to both
// anchors: TCP throughput with 1 and 4 connections, 64-byte UDP datagrams
// per second, and new TCP connections per second.
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
	type path struct {
		name                string
		client, server, dst string
		sum                 [4]float64 // tcp1, tcp4 (bytes/s), udp (pps), conns/s
	}
	paths := []*path{{name: "gwlb", client: "/run/netns/gwlb-" + l.Name + "-client", server: "/run/netns/gwlb-" + l.Name + "-web", dst: "203.0.113.10"}}
	l.Curl("client", "http://203.0.113.10/") // the path is up
	vc, vw, vaddr, tunnelRx := vxlanHairpin(b)
	rx0 := tunnelRx()
	paths = append(paths, &path{name: "vxlan", client: vc, server: vw, dst: vaddr})
	kc, kw, kaddr := kernelChain(b)
	paths = append(paths, &path{name: "kernel", client: kc, server: kw, dst: kaddr})

	iterations := 0
	for b.Loop() {
		iterations++
		for _, p := range paths {
			v, err := tcpThroughput(p.client, p.server, p.dst, 5001, 1, measure)
			if err != nil {
				b.Fatalf("%s, TCP, 1 connection: %v", p.name, err)
			}
			p.sum[0] += v
			if v, err = tcpThroughput(p.client, p.server, p.dst, 5001, 4, measure); err != nil {
				b.Fatalf("%s, TCP, 4 connections: %v", p.name, err)
			}
			p.sum[1] += v
			if v, err = udpRate(p.client, p.server, p.dst, 5002, measure); err != nil {
				b.Fatalf("%s, UDP: %v", p.name, err)
			}
			p.sum[2] += v
			if v, err = connRate(p.client, p.server, p.dst, 5003, measure); err != nil {
				b.Fatalf("%s, new connections: %v", p.name, err)
			}
			p.sum[3] += v
		}
	}
	// Every datagram and segment of the anchor crossed fw twice (there and
	// back), so its tunnel saw at least as many packets as web received
	// UDP datagrams; anything less means the hairpin was bypassed.
	if got, want := tunnelRx()-rx0, uint64(paths[1].sum[2]*measure.Seconds()); got < want {
		b.Fatalf("fw's tunnel received %d packets, fewer than the %d datagrams web received: the VXLAN anchor bypassed the appliance", got, want)
	}
	// Where the CPU goes through the lab: one more TCP and one more UDP
	// measurement, with the machine's time split by process group.
	groups := map[string][]int{
		"emulator":              {emulatorPID(b, l.Name)},
		"appliances":            append(pidsInNetns("/run/netns/gwlb-"+l.Name+"-fw-1"), pidsInNetns("/run/netns/gwlb-"+l.Name+"-fw-2")...),
		"client+server sockets": {os.Getpid()},
	}
	for _, m := range []struct {
		what string
		run  func() error
	}{
		{"TCP, 1 connection", func() error {
			_, err := tcpThroughput(paths[0].client, paths[0].server, paths[0].dst, 5001, 1, measure)
			return err
		}},
		{"UDP, 64-byte datagrams", func() error {
			_, err := udpRate(paths[0].client, paths[0].server, paths[0].dst, 5002, measure)
			return err
		}},
	} {
		share, err := measureCPU(groups, m.run)
		if err != nil {
			b.Fatalf("CPU split of %s: %v", m.what, err)
		}
		b.Logf("CPU during %s through the lab: %s", m.what, share)
	}
	mean := func(p *path, i int) float64 { return p.sum[i] / float64(iterations) }
	for _, p := range paths {
		b.ReportMetric(mean(p, 0)*8/1e6, p.name+"_tcp1_Mbit/s")
		b.ReportMetric(mean(p, 1)*8/1e6, p.name+"_tcp4_Mbit/s")
		b.ReportMetric(mean(p, 2)/1e3, p.name+"_udp64_kpps")
		b.ReportMetric(mean(p, 3), p.name+"_conns/s")
	}
	for _, anchor := range paths[1:] {
		for i, m := range []string{"tcp1", "tcp4", "udp64", "conns"} {
			b.ReportMetric(mean(paths[0], i)/mean(anchor, i), m+"_ratio_vs_"+anchor.name)
		}
	}
	// The data path's targets (docs/benchmarks.md), as ratios to the
	// anchor each is measured against.
	for _, t := range []struct {
		what   string
		i      int
		anchor *path
		target float64
	}{
		{"TCP, 1 connection", 0, paths[1], 0.5},
		{"TCP, 4 connections", 1, paths[1], 0.5},
		{"UDP, 64-byte datagrams", 2, paths[1], 1.0},
		{"new TCP connections/s", 3, paths[2], 0.5},
	} {
		r := mean(paths[0], t.i) / mean(t.anchor, t.i)
		verdict := "met"
		if r < t.target {
			verdict = "missed"
		}
		b.Logf("%-24s %.3f x %s (target >= %.1f x): %s", t.what, r, t.anchor.name, t.target, verdict)
	}
}

// emulatorPID is the PID of lab's emulator, from its state file.
func emulatorPID(b *testing.B, lab string) int {
	raw, err := os.ReadFile(filepath.Join("/run/gwlb-lab", lab, "state.json"))
	if err != nil {
		b.Fatal(err)
	}
	var st struct {
		Processes []struct {
			Role string `json:"role"`
			PID  int    `json:"pid"`
		} `json:"processes"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		b.Fatal(err)
	}
	for _, p := range st.Processes {
		if p.Role == "emulator" {
			return p.PID
		}
	}
	b.Fatalf("lab %s records no emulator", lab)
	return 0
}
