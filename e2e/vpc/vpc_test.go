package vpc

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("a plain VPC", Ordered, func() {
	var l *harness.Lab
	BeforeAll(func() {
		l = harness.Up("testdata/vpc.yaml")
	})

	Describe("internet gateway", func() {
		It("lets the client reach web by its public address over TCP, with the client's real address", func() {
			out := l.Curl("client", "http://203.0.113.10/")
			Expect(out).To(ContainSubstring("node web\n"))
			Expect(out).To(ContainSubstring("remote 198.51.100.10:"))
			Expect(out).To(ContainSubstring("local 10.0.1.10:80"))
		})
		It("carries UDP and ICMP the same way", func() {
			out := l.ProbeUDP("client", "203.0.113.10:80")
			Expect(out).To(ContainSubstring("proto udp\nremote 198.51.100.10:"))
			l.Ping("client", "203.0.113.10")
		})
		It("lets web reach the client, seen from its public address", func() {
			out := l.Curl("web", "http://198.51.100.10/")
			Expect(out).To(ContainSubstring("node client\n"))
			Expect(out).To(ContainSubstring("remote 203.0.113.10:"))
		})
	})

	Describe("NAT gateway", func() {
		It("gives an instance without a public address the way out, from the gateway's address", func() {
			out := l.Curl("db", "http://198.51.100.10/")
			Expect(out).To(ContainSubstring("remote 203.0.113.20:"))
			Expect(l.ProbeUDP("db", "198.51.100.10:80")).To(ContainSubstring("remote 203.0.113.20:"))
			l.Ping("db", "198.51.100.10")
		})
		It("keeps that instance unreachable from the internet", func() {
			before := l.Drops()["internet_no_route"]
			l.Fails("client", "http://10.0.2.10/")
			Expect(l.Drops()["internet_no_route"]).To(BeNumerically(">", before))
		})
	})

	Describe("routing", func() {
		It("delivers same-subnet traffic directly, ignoring a route table that points elsewhere", func() {
			_, mbBefore := l.PortCounters("mb")
			out := l.Curl("web", "http://10.0.1.11/")
			Expect(out).To(ContainSubstring("node web2\n"))
			Expect(out).To(ContainSubstring("remote 10.0.1.10:"))
			_, mbAfter := l.PortCounters("mb")
			Expect(mbAfter).To(Equal(mbBefore), "the middlebox received same-subnet traffic")
		})
		It("sends traffic through a middlebox on a more specific route, with the original addresses", func() {
			// Count, inside mb, the forwarded packets that still carry the
			// original addresses.
			r := l.Exec("mb", "iptables", "-I", "FORWARD", "-s", "10.0.2.10", "-d", "10.0.1.10", "-p", "tcp", "--dport", "80")
			Expect(r.Code).To(Equal(0), r.Stderr)
			out := l.Curl("db", "http://10.0.1.10/")
			Expect(out).To(ContainSubstring("node web\n"))
			Expect(out).To(ContainSubstring("remote 10.0.2.10:"))
			r = l.Exec("mb", "iptables", "-L", "FORWARD", "-v", "-x", "-n")
			Expect(r.Code).To(Equal(0), r.Stderr)
			Expect(forwardedPackets(r.Stdout)).To(BeNumerically(">", 0), r.Stdout)
		})
		It("counts traffic with no route and traffic to a blackhole", func() {
			before := l.Drops()
			Expect(l.Exec("solo", "ping", "-n", "-c", "1", "-W", "1", "198.51.100.10").Code).NotTo(Equal(0))
			Expect(l.Exec("solo", "ping", "-n", "-c", "1", "-W", "1", "192.0.2.5").Code).NotTo(Equal(0))
			after := l.Drops()
			Expect(after["no_route"]).To(BeNumerically(">", before["no_route"]))
			Expect(after["blackhole"]).To(BeNumerically(">", before["blackhole"]))
		})
	})
})

// forwardedPackets reads the packet count of the first rule of an
// `iptables -L FORWARD -v -x -n` listing.
func forwardedPackets(listing string) int {
	lines := strings.Split(listing, "\n")
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "pkts") && i+1 < len(lines) {
			f := strings.Fields(lines[i+1])
			if len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return -1
}

var _ = Describe("the source/destination check", func() {
	It("stops a checked instance from receiving traffic meant for others", func() {
		l := harness.Up("testdata/vpc-checked.yaml")
		// Make sure the path works up to mb's subnet before asserting a drop.
		l.Curl("db", "http://198.51.100.10/")
		before := l.Drops()["dest_check"]
		l.Fails("db", "http://10.0.1.10/")
		Expect(l.Drops()["dest_check"]).To(BeNumerically(">", before))
	})
})

var _ = Describe("down", func() {
	// leftovers lists what of lab name is still on the machine.
	leftovers := func(name string, pids []int) []string {
		var left []string
		out, err := exec.Command("ip", "netns", "list").Output()
		Expect(err).NotTo(HaveOccurred())
		for _, line := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(line, "gwlb-"+name+"-") {
				left = append(left, "namespace "+strings.Fields(line)[0])
			}
		}
		if _, err := os.Stat(filepath.Join("/run/gwlb-lab", name)); err == nil {
			left = append(left, "state directory")
		}
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
				left = append(left, "process "+strconv.Itoa(pid))
			}
		}
		links, err := exec.Command("ip", "-o", "link").Output()
		Expect(err).NotTo(HaveOccurred())
		if strings.Contains(string(links), name) {
			left = append(left, "a host link naming the lab")
		}
		return left
	}
	pidsOf := func(name string) []int {
		r := harness.Run(time.Minute, "status", "--json", "--name", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		s := decodeStatus(r.Stdout)
		pids := []int{s.Emulator.PID}
		for _, n := range s.Nodes {
			if n.PID != 0 {
				pids = append(pids, n.PID)
			}
		}
		return pids
	}

	It("removes everything, also after kill -9 of the emulator, and can run again", func() {
		harness.RequireRoot()
		name := harness.RandomName()
		DeferCleanup(func() { harness.Run(time.Minute, "down", "--name", name) })
		r := harness.Run(3*time.Minute, "up", "-f", "testdata/vpc.yaml", "--name", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		pids := pidsOf(name)
		Expect(len(pids)).To(BeNumerically(">=", 4))
		Expect(syscall.Kill(pids[0], syscall.SIGKILL)).To(Succeed())

		r = harness.Run(time.Minute, "down", "--name", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(leftovers(name, pids)).To(BeEmpty())

		// Again: nothing is left, and it says the lab is not up (exit 3).
		r = harness.Run(time.Minute, "down", "--name", name)
		Expect(r.Code).To(Equal(3), r.Stderr)
		Expect(r.Stderr).To(ContainSubstring(`no lab named "` + name + `" is up`))
		Expect(leftovers(name, pids)).To(BeEmpty())
	})

	It("removes a lab held by up --foreground when that process gets SIGTERM", func() {
		harness.RequireRoot()
		name := harness.RandomName()
		DeferCleanup(func() { harness.Run(time.Minute, "down", "--name", name) })
		cmd := exec.Command(harness.Binary(), "up", "-q", "--foreground", "-f", "testdata/vpc.yaml", "--name", name)
		Expect(cmd.Start()).To(Succeed())
		Eventually(func() int {
			return harness.Run(time.Minute, "status", "--name", name).Code
		}, time.Minute, 50*time.Millisecond).Should(Equal(0))
		l := &harness.Lab{Name: name}
		l.Curl("client", "http://203.0.113.10/")
		pids := pidsOf(name)
		Expect(cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
		Expect(cmd.Wait()).To(Succeed())
		Expect(leftovers(name, pids)).To(BeEmpty())
	})

	It("cleans up after `up` is killed halfway", func() {
		harness.RequireRoot()
		name := harness.RandomName()
		DeferCleanup(func() { harness.Run(time.Minute, "down", "--name", name) })
		cmd := exec.Command(harness.Binary(), "up", "-q", "-f", "testdata/vpc.yaml", "--name", name)
		Expect(cmd.Start()).To(Succeed())
		// Kill it as soon as its first namespace exists.
		Eventually(func() bool {
			_, err := os.Stat("/run/netns/gwlb-" + name + "-client")
			return err == nil
		}, time.Minute, time.Millisecond).Should(BeTrue())
		Expect(cmd.Process.Signal(syscall.SIGKILL)).To(Succeed())
		_ = cmd.Wait()

		r := harness.Run(time.Minute, "down", "--name", name)
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(leftovers(name, nil)).To(BeEmpty())
	})
})
