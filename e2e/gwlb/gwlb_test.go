package gwlb

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/appliance"
	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

const base = "testdata/gwlb.yaml"

// seen finds, across the appliances, the flow-log records of the flow from
// src to dst (addresses, and ports where given as addr:port) and proto.
func seen(l *harness.Lab, src, dst string, proto uint8) map[string][]appliance.FlowRecord {
	out := map[string][]appliance.FlowRecord{}
	for _, fw := range []string{"fw-1", "fw-2"} {
		for _, r := range l.FlowLog(fw) {
			if r.Proto != proto || r.Event != "flow" {
				continue
			}
			if (match(r.Src, r.SrcPort, src) && match(r.Dst, r.DstPort, dst)) || (match(r.Src, r.SrcPort, dst) && match(r.Dst, r.DstPort, src)) {
				out[fw] = append(out[fw], r)
			}
		}
	}
	return out
}

func match(addr string, port uint16, want string) bool {
	if a, p, ok := strings.Cut(want, ":"); ok {
		return addr == a && fmt.Sprint(port) == p
	}
	return addr == want
}

// bothWays asserts that exactly one appliance logged the flow, in both
// directions.
func bothWays(l *harness.Lab, src, dst string, proto uint8) {
	Eventually(func() map[string][]appliance.FlowRecord { return seen(l, src, dst, proto) }, 10*time.Second, 100*time.Millisecond).
		Should(HaveLen(1), "flow %s <-> %s/%d on exactly one appliance", src, dst, proto)
	for fw, recs := range seen(l, src, dst, proto) {
		dirs := map[string]bool{}
		for _, r := range recs {
			dirs[r.Dir] = true
		}
		Expect(dirs).To(HaveKey("original"), "%s saw %s -> %s", fw, src, dst)
		Expect(dirs).To(HaveKey("reply"), "%s saw the reply of %s -> %s", fw, src, dst)
	}
}

var echoRemote = regexp.MustCompile(`remote ([0-9.]+):(\d+)`)

var _ = Describe("traffic through the GWLB", Ordered, func() {
	var l *harness.Lab
	BeforeAll(func() { l = harness.Up(base) })

	It("carries ingress TCP through an appliance both ways, keeping real addresses", func() {
		out := l.Curl("client", "http://203.0.113.10/")
		Expect(out).To(ContainSubstring("node web\n"))
		m := echoRemote.FindStringSubmatch(out)
		Expect(m).NotTo(BeNil(), out)
		Expect(m[1]).To(Equal("198.51.100.10"), "GWLB must not translate addresses")
		bothWays(l, "198.51.100.10:"+m[2], "10.0.1.10:80", 6)
		flows := l.Flows()
		Expect(flows).To(ContainElement(HaveField("Src", "198.51.100.10:"+m[2])))
	})
	It("carries egress TCP the same way", func() {
		out := l.Curl("web", "http://198.51.100.10/")
		m := echoRemote.FindStringSubmatch(out)
		Expect(m).NotTo(BeNil(), out)
		Expect(m[1]).To(Equal("203.0.113.10"), "only the internet gateway translates")
		bothWays(l, "10.0.1.10:"+m[2], "198.51.100.10:80", 6)
	})
	It("carries UDP and ICMP, both directions", func() {
		out := l.ProbeUDP("client", "203.0.113.10:80")
		m := echoRemote.FindStringSubmatch(out)
		Expect(m).NotTo(BeNil(), out)
		Expect(m[1]).To(Equal("198.51.100.10"))
		bothWays(l, "198.51.100.10:"+m[2], "10.0.1.10:80", 17)

		out = l.ProbeUDP("web", "198.51.100.10:80")
		m = echoRemote.FindStringSubmatch(out)
		Expect(m).NotTo(BeNil(), out)
		bothWays(l, "10.0.1.10:"+m[2], "198.51.100.10:80", 17)

		l.Ping("client", "203.0.113.10")
		bothWays(l, "198.51.100.10", "10.0.1.10", 1)
		l.Ping("web", "198.51.100.10")
		bothWays(l, "10.0.1.10", "198.51.100.10", 1)
	})

	It("looks on the appliance's wire like a capture taken on AWS", func() {
		// Capture on both appliances; the probe's flow lands on one.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		type capture struct {
			lines chan string
			cmd   *exec.Cmd
		}
		caps := map[string]*capture{}
		for _, fw := range []string{"fw-1", "fw-2"} {
			cmd := exec.CommandContext(ctx, harness.Binary(), "exec", "--name", l.Name, fw, "--",
				"tcpdump", "-n", "-t", "-l", "-c", "4", "-i", "eth0", "udp port 6081")
			stdout, err := cmd.StdoutPipe()
			Expect(err).NotTo(HaveOccurred())
			stderr, err := cmd.StderrPipe()
			Expect(err).NotTo(HaveOccurred())
			Expect(cmd.Start()).To(Succeed())
			c := &capture{lines: make(chan string, 16), cmd: cmd}
			caps[fw] = c
			go func() {
				s := bufio.NewScanner(stdout)
				for s.Scan() {
					c.lines <- s.Text()
				}
				close(c.lines)
			}()
			// tcpdump says "listening on" once its filter is in place.
			listening := bufio.NewScanner(stderr)
			ready := false
			for !ready && listening.Scan() {
				ready = strings.Contains(listening.Text(), "listening on eth0")
			}
			Expect(ready).To(BeTrue(), "tcpdump on %s did not start", fw)
			go func() {
				for listening.Scan() {
				}
			}()
		}
		l.ProbeUDP("client", "203.0.113.10:80")

		var got []string
		for _, c := range caps {
			var lines []string
			timeout := time.After(5 * time.Second)
		read:
			for {
				select {
				case line, ok := <-c.lines:
					if !ok {
						break read
					}
					lines = append(lines, line)
				case <-timeout:
					break read
				}
			}
			if len(lines) == 4 {
				got = lines
			}
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
		Expect(got).To(HaveLen(4), "one appliance captured the probe's four GENEVE packets")
		// GWLB -> appliance and back: same outer port, swapped addresses,
		// and tcpdump decodes exactly what real GWLB traffic shows.
		re := regexp.MustCompile(`^IP (10\.20\.[0-9.]+)\.(\d+) > (10\.20\.[0-9.]+)\.6081: Geneve, Flags \[none\], vni 0x0, options \[32 bytes\]: IP ([0-9.]+)\.\d+ > ([0-9.]+)\.\d+: UDP`)
		var port string
		for i, line := range got {
			m := re.FindStringSubmatch(line)
			Expect(m).NotTo(BeNil(), "capture line %d: %s", i, line)
			if port == "" {
				port = m[2]
			}
			Expect(m[2]).To(Equal(port), "every packet of the flow uses one outer port: %v", got)
			if i%2 == 0 {
				Expect(m[1]).To(Equal("10.20.0.50"), "GWLB node sends: %s", line)
			} else {
				Expect(m[3]).To(Equal("10.20.0.50"), "appliance returns to the GWLB node: %s", line)
			}
		}
		Expect(got[0]).To(ContainSubstring("IP 198.51.100.10."), "request inner source")
		Expect(got[2]).To(ContainSubstring("IP 10.0.1.10.80 > 198.51.100.10."), "reply inner addresses")
	})

	It("spreads many flows over both appliances, each flow staying on one", func() {
		r := l.Exec("client", "sh", "-c", "for i in $(seq 40); do curl -s -o /dev/null --max-time 3 http://203.0.113.10/ || exit 1; done")
		Expect(r.Code).To(Equal(0), r.Stderr)
		perTarget := map[string]int{}
		for _, f := range l.Flows() {
			if f.Proto == 6 && f.Dst == "10.0.1.10:80" {
				perTarget[f.Target]++
				Expect(f.OrigPackets).To(BeNumerically(">", 0))
				Expect(f.ReplyPackets).To(BeNumerically(">", 0))
				Expect(f.OuterPort).To(BeNumerically(">=", 49152))
			}
		}
		Expect(perTarget).To(HaveLen(2), "flows on %v", perTarget)
		// Each connection's two directions were seen by one appliance only.
		keys := map[string]map[string]bool{}
		for _, fw := range []string{"fw-1", "fw-2"} {
			for _, rec := range l.FlowLog(fw) {
				if rec.Proto != 6 {
					continue
				}
				k := fmt.Sprintf("%s:%d-%s:%d", rec.Src, rec.SrcPort, rec.Dst, rec.DstPort)
				if rec.Dir == "reply" {
					k = fmt.Sprintf("%s:%d-%s:%d", rec.Dst, rec.DstPort, rec.Src, rec.SrcPort)
				}
				if keys[k] == nil {
					keys[k] = map[string]bool{}
				}
				keys[k][fw] = true
			}
		}
		for k, fws := range keys {
			Expect(fws).To(HaveLen(1), "flow %s seen by %v", k, fws)
		}
	})

	It("drops an inner packet over 8500 bytes and passes one of 8500", func() {
		before := l.Drops()["endpoint_packet_too_big"]
		// 8472 bytes of ICMP payload + 8 + 20 = 8500.
		l.Ping("web", "198.51.100.10", "-M", "do", "-s", "8472")
		Expect(l.Exec("web", "ping", "-n", "-c", "1", "-W", "2", "-M", "do", "-s", "8473", "198.51.100.10").Code).NotTo(Equal(0))
		Expect(l.Drops()["endpoint_packet_too_big"]).To(BeNumerically(">", before))
	})
})

var _ = Describe("stickiness", func() {
	It("puts every flow of one client/server pair on one appliance with 2-tuple", func() {
		l := harness.Up(harness.Variant(base, "stickiness: 5-tuple", "stickiness: 2-tuple"))
		r := l.Exec("client", "sh", "-c", "for i in $(seq 20); do curl -s -o /dev/null --max-time 3 http://203.0.113.10/ || exit 1; done")
		Expect(r.Code).To(Equal(0), r.Stderr)
		l.ProbeUDP("client", "203.0.113.10:80")
		targets := map[string]bool{}
		for _, f := range l.Flows() {
			targets[f.Target] = true
		}
		Expect(targets).To(HaveLen(1), "2-tuple flows on %v", targets)
		// One flow entry holds the pair: ports and protocol are not part of it.
		Expect(l.Flows()).To(HaveLen(1))
	})
})

var _ = Describe("the idle timeout", func() {
	It("forgets an idle TCP flow: old data is dropped, a new SYN is hashed afresh", func() {
		// 100x lab clock: the 350 s TCP idle timeout passes in 3.5 s.
		l := harness.Up(harness.Variant(base, "time_scale: 1", "time_scale: 100"))
		l.Curl("client", "http://203.0.113.10/")
		newFlows := func() uint64 {
			s := l.Status()
			var n uint64
			for _, m := range s.Counters.GWLB {
				n += m.NewFlowCount
			}
			return n
		}
		before := newFlows()
		beforeDrops := l.GWLBDrops()["tcp_no_flow"]
		// One keep-alive connection: a request, 5 s (500 lab seconds) of
		// silence, another request on the same connection.
		script := `exec 3<>/dev/tcp/203.0.113.10/80
printf 'GET / HTTP/1.1\r\nHost: web\r\n\r\n' >&3
timeout 2 head -c 1 <&3 >/dev/null || exit 10
sleep 5
printf 'GET / HTTP/1.1\r\nHost: web\r\n\r\n' >&3
timeout 3 cat <&3 >/dev/null
exit 0`
		r := l.Exec("client", "bash", "-c", script)
		Expect(r.Code).To(Equal(0), "the first request must pass: %s", r.Stderr)
		Expect(l.GWLBDrops()["tcp_no_flow"]).To(BeNumerically(">", beforeDrops), "data after the idle timeout is dropped")
		Expect(newFlows()).To(Equal(before+1), "only the first SYN made a flow")
		// A new connection is a new flow.
		l.Curl("client", "http://203.0.113.10/")
		Expect(newFlows()).To(Equal(before + 2))
	})
})

var _ = Describe("misbehaving appliances", func() {
	// One appliance, so every flow meets the misbehaviour.
	oneTarget := func(misbehave string) *harness.Lab {
		return harness.Up(harness.Variant(base,
			"targets: [fw-1, fw-2]", "targets: [fw-1]",
			"        run: {appliance: {mode: forward, health_port: 80, flow_log: true}}\n      fw-2:",
			"        run: {appliance: {mode: forward, health_port: 80, flow_log: true, misbehave: "+misbehave+"}}\n      fw-2:"))
	}
	DescribeTable("are dropped by the GWLB with the right counter",
		func(misbehave, reason string) {
			l := oneTarget(misbehave)
			l.Fails("client", "http://203.0.113.10/")
			Expect(l.GWLBDrops()[reason]).To(BeNumerically(">", 0))
		},
		Entry("altered cookie", "{alter_cookie: true}", "return_cookie_mismatch"),
		Entry("stripped cookie option", "{strip_option: 3}", "return_option_missing"),
		Entry("stripped endpoint option", "{strip_option: 1}", "return_option_missing"),
		Entry("non-zero VNI", "{vni: 5}", "return_bad_vni"),
	)
	It("are accepted when they only reply from another UDP port (spec §12)", func() {
		l := oneTarget("{reply_from_port: 7000}")
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("remote 198.51.100.10:"))
	})
})

var _ = Describe("the iptables reflector appliance", func() {
	It("carries traffic like the reference appliance", func() {
		l := harness.Up(harness.Variant(base,
			"run: {appliance: {mode: forward, health_port: 80, flow_log: true}}", "run: {reflector: {health_port: 80}}"))
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("remote 198.51.100.10:"))
		Expect(l.Curl("web", "http://198.51.100.10/")).To(ContainSubstring("remote 203.0.113.10:"))
		Expect(l.ProbeUDP("client", "203.0.113.10:80")).To(ContainSubstring("remote 198.51.100.10:"))
		l.Ping("client", "203.0.113.10")
		Expect(l.Flows()).NotTo(BeEmpty())
		Expect(l.GWLBDrops()).To(HaveKeyWithValue("return_unknown_flow", BeZero()))
	})
})

var _ = Describe("endpoint acceptance", func() {
	It("passes nothing until the endpoint is accepted", func() {
		l := harness.Up(harness.Variant(base, "acceptance_required: false", "acceptance_required: true"))
		l.Fails("client", "http://203.0.113.10/")
		Expect(l.Drops()["endpoint_not_accepted"]).To(BeNumerically(">", 0))
		r := harness.Run(time.Minute, "endpoints", "--name", l.Name)
		Expect(r.Stdout).To(ContainSubstring("pendingAcceptance"))
		r = harness.Run(time.Minute, "endpoints", "accept", "--name", l.Name, "gwlbe-1")
		Expect(r.Code).To(Equal(0), r.Stderr)
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("remote 198.51.100.10:"))
	})
})

var _ = Describe("asymmetric routing (spec §6.6)", func() {
	It("#3: an endpoint in the workloads' subnet loops the reply back into itself; the lab stops it", func() {
		l := harness.Up(harness.Variant(base, "gwlbe-1: {subnet: endpoint, service: inspection}", "gwlbe-1: {subnet: app, service: inspection}"))
		l.Fails("client", "http://203.0.113.10/")
		Expect(l.Drops()["routing_loop"]).To(BeNumerically(">", 0))
		// The appliance saw the SYN and, once, the SYN-ACK: inspected, then
		// sent round again by the app subnet's 0.0.0.0/0.
		recs := append(l.FlowLog("fw-1"), l.FlowLog("fw-2")...)
		dirs := map[string]bool{}
		for _, r := range recs {
			if r.Proto == 6 {
				dirs[r.Dir] = true
			}
		}
		Expect(dirs).To(HaveKey("original"))
		Expect(dirs).To(HaveKey("reply"))
	})

	It("#1: without the edge route, inbound bypasses the endpoint and the GWLB drops the reply", func() {
		l := harness.Up(harness.Variant(base, `      edge:
        edge_association: igw-consumer
        routes:
          - {destination: 10.0.1.0/24, target: gwlbe-1}
`, ""))
		l.Fails("client", "http://203.0.113.10/")
		// The SYN reached web directly; its SYN-ACK went to the endpoint,
		// and a GWLB never creates a TCP flow from a SYN-ACK (spec §3.3).
		Expect(l.GWLBDrops()["tcp_no_flow"]).To(BeNumerically(">", 0))
		Expect(l.FlowLog("fw-1")).To(BeEmpty())
		Expect(l.FlowLog("fw-2")).To(BeEmpty())
		// Egress, which starts on the inspected side, still works.
		Expect(l.Curl("web", "http://198.51.100.10/")).To(ContainSubstring("remote 203.0.113.10:"))
	})
})
