package gwlb

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"github.com/gwlb-lab/gwlb-lab/emulator/pcap"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// startCapture captures node's port into a file until stop is called, and
// returns the file.
func startCapture(l *harness.Lab, node string) (file string, stop func()) {
	file = filepath.Join(GinkgoT().TempDir(), node+".pcap")
	cmd := exec.Command(harness.Binary(), "capture", "--name", l.Name, node, "-w", file, "--duration", "2m")
	stderr, err := cmd.StderrPipe()
	Expect(err).NotTo(HaveOccurred())
	Expect(cmd.Start()).To(Succeed())
	DeferCleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	Expect(sc.Scan()).To(BeTrue())
	Expect(sc.Text()).To(HavePrefix("capturing on " + node))
	go func() {
		for sc.Scan() {
		}
	}()
	return file, func() {
		Expect(cmd.Process.Signal(os.Interrupt)).To(Succeed())
		Expect(cmd.Wait()).To(Succeed())
	}
}

// datagram names an inner IPv4 datagram: its addresses and IP ID.
type datagram struct {
	src, dst string
	id       uint16
}

// fragmentsSent reads a capture of an appliance's port and returns, for
// each inner UDP datagram the GWLB node sent it in fragments, the fragment
// offsets it carried.
func fragmentsSent(file string) map[datagram][]uint16 {
	f, err := os.Open(file)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	rd, err := pcap.NewReader(f)
	Expect(err).NotTo(HaveOccurred())
	out := map[datagram][]uint16{}
	for {
		p, err := rd.Next()
		if err != nil {
			return out
		}
		d, err := packet.Decap(p.Data)
		if err != nil || d.Outer.Src().String() != "10.20.0.50" {
			continue // not GENEVE from the GWLB node
		}
		in := packet.IPv4(d.Inner)
		if in.Version() != 4 || in.Protocol() != packet.ProtoUDP || in.Fragment() == packet.NotFragment {
			continue
		}
		k := datagram{in.Src().String(), in.Dst().String(), in.ID()}
		out[k] = append(out[k], in.FragOffset())
	}
}

var _ = Describe("IPv4 fragments through the GWLB", func() {
	DescribeTable("reach one appliance per datagram, and the datagram arrives whole",
		func(stickiness string) {
			l := harness.Up(harness.Variant(base, "stickiness: 5-tuple", "stickiness: "+stickiness))
			l.Curl("client", "http://203.0.113.10/") // the path is up
			// A 1500-byte MTU at both ends: 3000-byte datagrams leave
			// either in three fragments (the nodes' MTU is 9001).
			for _, n := range []string{"client", "web"} {
				r := l.Exec(n, "ip", "link", "set", "eth0", "mtu", "1500")
				Expect(r.Code).To(Equal(0), r.Stderr)
			}
			files, stops := map[string]string{}, []func(){}
			for _, fw := range []string{"fw-1", "fw-2"} {
				file, stop := startCapture(l, fw)
				files[fw] = file
				stops = append(stops, stop)
			}
			// 16 flows (each probe from its own source port), one 3000-byte
			// datagram each way; web's echo quotes the message, so an
			// answer means the datagram arrived whole.
			msg := strings.Repeat("0123456789", 300)
			for i := range 16 {
				out := l.ProbeUDPMessage("client", "203.0.113.10:80", msg)
				Expect(out).To(ContainSubstring(msg), "datagram %d did not arrive whole", i)
			}
			for _, stop := range stops {
				stop()
			}
			where := map[datagram]string{}
			perAppliance := map[string]int{}
			for fw, file := range files {
				for dg, offs := range fragmentsSent(file) {
					Expect(where).NotTo(HaveKey(dg), "datagram %v reached %s and %s", dg, where[dg], fw)
					where[dg] = fw
					Expect(offs).To(ContainElements(uint16(0), uint16(1480), uint16(2960)), "fragments of %v at %s", dg, fw)
					perAppliance[fw]++
				}
			}
			// 16 requests and 16 answers at least (a probe may resend).
			Expect(len(where)).To(BeNumerically(">=", 32), fmt.Sprint(perAppliance))
			if stickiness == "5-tuple" {
				// The flows spread, so their fragments had a choice to get wrong.
				Expect(perAppliance).To(HaveLen(2), "all 16 flows on one appliance")
			}
			Expect(l.GWLBDrops()["fragment_orphaned"]).To(BeZero())
		},
		Entry("with 5-tuple stickiness", "5-tuple"),
		Entry("with 2-tuple stickiness", "2-tuple"),
	)
})
