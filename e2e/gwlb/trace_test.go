package gwlb

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("gwlb-lab trace", func() {
	It("shows why a missing edge route breaks inbound traffic (spec §6.6 #1)", func() {
		l := harness.Up(harness.Variant(base, `      edge:
        edge_association: igw-consumer
        routes:
          - {destination: 10.0.1.0/24, target: gwlbe-1}
`, ""))
		cmd := exec.Command(harness.Binary(), "trace", "--name", l.Name, "--host", "198.51.100.10", "-c", "2", "--duration", "20s", "--json")
		stdout, err := cmd.StdoutPipe()
		Expect(err).NotTo(HaveOccurred())
		stderr, err := cmd.StderrPipe()
		Expect(err).NotTo(HaveOccurred())
		Expect(cmd.Start()).To(Succeed())
		started := bufio.NewScanner(stderr)
		Expect(started.Scan()).To(BeTrue())
		Expect(started.Text()).To(HavePrefix("tracing packets of 198.51.100.10"))

		// One SYN: curl gives up before retransmitting.
		l.Exec("client", "curl", "-s", "--max-time", "0.5", "http://203.0.113.10/")
		var traces []api.Trace
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var t api.Trace
			Expect(json.Unmarshal(sc.Bytes(), &t)).To(Succeed())
			traces = append(traces, t)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		Eventually(done, 30*time.Second).Should(Receive(BeNil()))
		Expect(traces).To(HaveLen(2))

		syn, synack := traces[0], traces[1]
		Expect(syn.From).To(Equal("client"))
		Expect(strings.Join(syn.Hops, "\n")).To(ContainSubstring("no edge route table: local delivery"))
		Expect(syn.Result).To(Equal("delivered to web"), "the SYN bypassed inspection")
		Expect(synack.From).To(Equal("web"))
		Expect(strings.Join(synack.Hops, "\n")).To(ContainSubstring("route table app: 0.0.0.0/0 -> gwlb endpoint gwlbe-1"))
		Expect(synack.Result).To(Equal("dropped by gwlb node gwlb-1-az1: tcp_no_flow"))
	})
})
