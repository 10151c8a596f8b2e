package gwlb

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/pcap"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// sendBulk sends n pseudo-random bytes over one TCP connection from the
// client node to web's public address (through the GWLB and an appliance)
// and returns the sha256 of what was sent and of what web received.
func sendBulk(l *harness.Lab, n int) (sent, received [32]byte) {
	GinkgoHelper()
	var ln net.Listener
	Expect(ns.WithNetNSPath("/run/netns/gwlb-"+l.Name+"-web", func(ns.NetNS) (err error) {
		ln, err = net.Listen("tcp", ":5001")
		return err
	})).To(Succeed())
	defer ln.Close()
	got := make(chan [32]byte, 1)
	go func() {
		defer GinkgoRecover()
		c, err := ln.Accept()
		Expect(err).NotTo(HaveOccurred())
		defer c.Close()
		h := sha256.New()
		_, err = io.Copy(h, c)
		Expect(err).NotTo(HaveOccurred())
		got <- [32]byte(h.Sum(nil))
	}()
	var c net.Conn
	Expect(ns.WithNetNSPath("/run/netns/gwlb-"+l.Name+"-client", func(ns.NetNS) (err error) {
		c, err = net.DialTimeout("tcp", "203.0.113.10:5001", 5*time.Second)
		return err
	})).To(Succeed())
	Expect(c.SetDeadline(time.Now().Add(2 * time.Minute))).To(Succeed())
	r := rand.New(rand.NewPCG(uint64(n), 12))
	h := sha256.New()
	buf := make([]byte, 256<<10)
	for left := n; left > 0; left -= len(buf) {
		b := buf[:min(left, len(buf))]
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		h.Write(b)
		_, err := c.Write(b)
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(c.Close()).To(Succeed())
	Eventually(got).WithTimeout(2 * time.Minute).Should(Receive(&received))
	return [32]byte(h.Sum(nil)), received
}

// defaultThreads is how many threads the emulator runs on when nothing
// sets them: half of what Go would give it (at least one), or what
// GOMAXPROCS says when set.
func defaultThreads() int {
	n := runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") == "" {
		n = max(1, n/2)
	}
	return n
}

var _ = Describe("gwlb-lab TAP offloads", func() {
	DescribeTable("carry a bulk TCP transfer through the GWLB byte for byte, and capture sees packets no longer than the MTU",
		func(procs string, threads func() int) {
			// up passes it on to the emulator it starts; empty is the
			// default.
			GinkgoT().Setenv("GWLB_LAB_EMULATOR_PROCS", procs)
			transferAndCapture(threads())
		},
		Entry("with the emulator's default threads", "", defaultThreads),
		Entry("with two emulator threads, each TAP read on two queues", "2", func() int { return 2 }),
	)
})

// transferAndCapture sends 32 MiB from client to web through the GWLB
// while capturing on client's port, and checks that the bytes arrive
// intact, that the emulator runs on threads threads and read client's TAP
// with offloads on as many queues (two at most), and that the capture holds
// no super-frame.
func transferAndCapture(threads int) {
	GinkgoHelper()
	l := harness.Up(base)
	Expect(l.Status().Emulator.Threads).To(Equal(threads), "the emulator's threads in status")
	queues := min(2, threads)
	l.Curl("client", "http://203.0.113.10/") // the path is up
	r := l.Exec("client", "ip", "-o", "link", "show", "eth0")
	Expect(r.Code).To(Equal(0), r.Stderr)
	f := strings.Fields(r.Stdout)
	i := slices.Index(f, "mtu")
	Expect(i).To(BeNumerically(">", 0), "no mtu in %q", r.Stdout)
	mtu, err := strconv.Atoi(f[i+1])
	Expect(err).NotTo(HaveOccurred())

	file := filepath.Join(GinkgoT().TempDir(), "client.pcap")
	cmd := exec.Command(harness.Binary(), "capture", "--name", l.Name, "client", "-w", file, "-c", "2000", "--duration", "60s")
	stderr, err := cmd.StderrPipe()
	Expect(err).NotTo(HaveOccurred())
	Expect(cmd.Start()).To(Succeed())
	started := bufio.NewScanner(stderr)
	Expect(started.Scan()).To(BeTrue())
	Expect(started.Text()).To(HavePrefix("capturing on client"))
	go func() {
		for started.Scan() {
		}
	}()

	sent, received := sendBulk(l, 32<<20)
	Expect(received).To(Equal(sent), "web received other bytes than client sent")
	Expect(cmd.Wait()).To(Succeed())

	// The client's kernel handed the emulator super-frames, which were
	// split before anything else saw them.
	var off bool
	for _, p := range l.Counters().Ports {
		if p.Node != "client" {
			continue
		}
		Expect(p.Offload).NotTo(BeNil())
		Expect(p.Offload.Negotiated).To(ContainSubstring("tso4"))
		// The lab's TAPs are multi-queue: the emulator reads as many
		// queues as it has threads, up to two.
		if queues == 1 {
			Expect(p.Offload.Negotiated).To(HaveSuffix("; 1 queue"))
		} else {
			Expect(p.Offload.Negotiated).To(HaveSuffix(fmt.Sprintf("; %d queues", queues)))
		}
		Expect(p.Offload.Negotiated).NotTo(ContainSubstring("single-queue"))
		Expect(p.Offload.SuperFrames).To(BeNumerically(">", 0))
		Expect(p.Offload.Dropped).To(BeZero())
		off = true
	}
	Expect(off).To(BeTrue(), "no port counters for client")

	pf, err := os.Open(file)
	Expect(err).NotTo(HaveOccurred())
	defer pf.Close()
	rd, err := pcap.NewReader(pf)
	Expect(err).NotTo(HaveOccurred())
	frames, longest := 0, 0
	for {
		p, err := rd.Next()
		if err != nil {
			break
		}
		frames++
		longest = max(longest, len(p.Data))
	}
	Expect(frames).To(Equal(2000))
	// No super-frame reached the capture; full-sized segments did (the
	// endpoint's MSS clamp, 8460, stays above a 1500-byte MTU's MSS).
	Expect(longest).To(BeNumerically("<=", mtu+18), "a captured frame is longer than the client's MTU")
	Expect(longest).To(BeNumerically(">", min(mtu, 8460)-100), "no full-sized segment was captured")
}
