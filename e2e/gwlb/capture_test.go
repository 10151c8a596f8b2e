package gwlb

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/packet"
	"github.com/gwlb-lab/gwlb-lab/emulator/pcap"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("gwlb-lab capture", func() {
	It("writes an appliance port's GENEVE, both ways, as pcap", func() {
		l := harness.Up(base)
		l.Curl("client", "http://203.0.113.10/") // the path is up
		var target string
		for _, f := range l.Flows() {
			target = f.Target
		}
		Expect(target).NotTo(BeEmpty())
		file := filepath.Join(GinkgoT().TempDir(), "cap.pcap")
		cmd := exec.Command(harness.Binary(), "capture", "--name", l.Name, target, "-w", file, "-c", "40", "--duration", "20s")
		stderr, err := cmd.StderrPipe()
		Expect(err).NotTo(HaveOccurred())
		Expect(cmd.Start()).To(Succeed())
		// It says so once the emulator streams the port's frames.
		started := bufio.NewScanner(stderr)
		Expect(started.Scan()).To(BeTrue())
		Expect(started.Text()).To(HavePrefix("capturing on " + target))
		go func() {
			for started.Scan() {
			}
		}()
		// 20 connections, so that some land on the captured appliance.
		r := l.Exec("client", "sh", "-c", "for i in $(seq 20); do curl -s -o /dev/null --max-time 3 http://203.0.113.10/; done")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(cmd.Wait()).To(Succeed())

		f, err := os.Open(file)
		Expect(err).NotTo(HaveOccurred())
		defer f.Close()
		rd, err := pcap.NewReader(f)
		Expect(err).NotTo(HaveOccurred())
		toAppliance, fromAppliance := 0, 0
		for {
			p, err := rd.Next()
			if err != nil {
				break
			}
			d, err := packet.Decap(p.Data)
			if err != nil {
				continue // ARP and the health checks
			}
			Expect(d.Geneve.VNI()).To(BeZero())
			Expect(d.Geneve.OptionsLen()).To(Equal(32))
			switch d.Outer.Src().String() {
			case "10.20.0.50":
				toAppliance++
			default:
				Expect(d.Outer.Dst().String()).To(Equal("10.20.0.50"))
				fromAppliance++
			}
		}
		Expect(toAppliance).To(BeNumerically(">", 0))
		Expect(fromAppliance).To(BeNumerically(">", 0))
	})
})

var _ = Describe("gwlb-lab logs", func() {
	It("prints a node program's log and the emulator's", func() {
		l := harness.Up(base)
		r := harness.Run(time.Minute, "logs", "--name", l.Name, "fw-1")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(r.Stdout).To(ContainSubstring(`msg="appliance listening" geneve=0.0.0.0:6081`))
		r = harness.Run(time.Minute, "logs", "--name", l.Name, "emulator")
		Expect(r.Stdout).To(ContainSubstring(`msg="emulator running" lab=` + l.Name))
		r = harness.Run(time.Minute, "logs", "--name", l.Name, "nosuch")
		Expect(r.Code).NotTo(Equal(0))
		Expect(r.Stderr).To(ContainSubstring(`has no node "nosuch"`))
	})
})
