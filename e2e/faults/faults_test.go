package faults

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/gwlb"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// defaultLab is the lab `up` brings up without -f.
func defaultLab() string { return filepath.Join(harness.RepoRoot(), "scenarios", "default.yaml") }

// cli runs a gwlb-lab command on the lab and expects it to succeed.
func cli(l *harness.Lab, args ...string) string {
	GinkgoHelper()
	r := harness.Run(time.Minute, append(args, "--name", l.Name)...)
	Expect(r.Code).To(Equal(0), "gwlb-lab %s: %s%s", strings.Join(args, " "), r.Stdout, r.Stderr)
	return r.Stdout
}

var (
	pingLoss = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)
	pingRTT  = regexp.MustCompile(`rtt min/avg/max/mdev = ([0-9.]+)/([0-9.]+)/([0-9.]+)/`)
)

// ping sends count echo requests from node to addr, interval apart, and
// returns how many were answered and the round-trip times (min, avg, max)
// in milliseconds (zero when none came back).
func ping(l *harness.Lab, node, addr string, count int, interval string) (sent, received int, rtt [3]float64) {
	GinkgoHelper()
	r := l.Exec(node, "ping", "-n", "-q", "-c", strconv.Itoa(count), "-i", interval, "-W", "1", addr)
	m := pingLoss.FindStringSubmatch(r.Stdout)
	Expect(m).NotTo(BeNil(), "ping: %s%s", r.Stdout, r.Stderr)
	sent, _ = strconv.Atoi(m[1])
	received, _ = strconv.Atoi(m[2])
	if t := pingRTT.FindStringSubmatch(r.Stdout); t != nil {
		for i := range rtt {
			rtt[i], _ = strconv.ParseFloat(t[i+1], 64)
		}
	}
	return sent, received, rtt
}

func links(l *harness.Lab) map[string]api.Link {
	GinkgoHelper()
	var list []api.Link
	Expect(json.Unmarshal([]byte(cli(l, "link", "show", "--json")), &list)).To(Succeed())
	out := map[string]api.Link{}
	for _, x := range list {
		out[x.Node] = x
	}
	return out
}

var _ = Describe("link impairment", Ordered, func() {
	var l *harness.Lab
	BeforeAll(func() {
		l = harness.Up(defaultLab())
		l.Ping("client", "203.0.113.10") // the path is up, ARP resolved
	})

	It("loses the set share of the frames delivered to a node", func() {
		const count, loss = 300, 30.0
		Expect(cli(l, "link", "set", "web", "--loss", "30")).To(ContainSubstring("link web: loss 30%"))
		sent, received, _ := ping(l, "client", "203.0.113.10", count, "0.01")
		Expect(sent).To(Equal(count))
		lost := 100 * float64(sent-received) / float64(sent)
		// One standard deviation over 300 pings is 2.6 points; 11 is
		// more than four of them.
		Expect(lost).To(BeNumerically("~", loss, 11), "lost %d of %d", sent-received, sent)
		web := links(l)["web"]
		Expect(web.LossPercent).To(Equal(loss))
		Expect(web.Dropped.Loss).To(BeNumerically(">=", uint64(sent-received)))
		Expect(l.Drops()["link_loss"]).To(Equal(web.Dropped.Loss))
		cli(l, "link", "set", "web", "--loss", "0")
		_, received, _ = ping(l, "client", "203.0.113.10", 50, "0.01")
		Expect(received).To(Equal(50), "no loss once cleared")
	})

	It("delays the frames delivered to a node by the set time", func() {
		_, _, base := ping(l, "client", "203.0.113.10", 20, "0.05")
		Expect(cli(l, "link", "set", "web", "--delay", "60ms")).To(ContainSubstring("delay 60ms"))
		_, received, rtt := ping(l, "client", "203.0.113.10", 20, "0.05")
		Expect(received).To(Equal(20))
		Expect(rtt[0]).To(BeNumerically(">=", 60), "no echo comes back faster than the delay")
		Expect(rtt[1]-base[1]).To(BeNumerically("~", 60, 25), "average round trip %v ms, %v ms without the delay", rtt[1], base[1])
		Expect(links(l)["web"].Delayed).To(BeNumerically(">=", 20))

		// Jitter spreads the round trips, never below delay - jitter.
		cli(l, "link", "set", "web", "--delay", "60ms", "--jitter", "20ms")
		_, received, rtt = ping(l, "client", "203.0.113.10", 40, "0.05")
		Expect(received).To(Equal(40))
		Expect(rtt[0]).To(BeNumerically(">=", 40))
		Expect(rtt[2]-rtt[0]).To(BeNumerically(">", 5), "jitter of ±20ms spreads 40 round trips")
		Expect(cli(l, "link", "clear", "web")).To(ContainSubstring("link web: no impairment"))
		_, _, rtt = ping(l, "client", "203.0.113.10", 10, "0.05")
		Expect(rtt[1]).To(BeNumerically("<", 30))
	})

	It("drops everything to and from a node whose link is down, until it is up", func() {
		cli(l, "link", "set", "web", "--down")
		_, received, _ := ping(l, "client", "203.0.113.10", 5, "0.2")
		Expect(received).To(Equal(0))
		// From the node: its own pings go nowhere either.
		_, received, _ = ping(l, "web", "198.51.100.10", 3, "0.2")
		Expect(received).To(Equal(0))
		web := links(l)["web"]
		Expect(web.Down).To(BeTrue())
		Expect(web.Dropped.Down).To(BeNumerically(">=", 8))
		Expect(l.Drops()["link_down"]).To(BeNumerically(">=", 8))
		Expect(cli(l, "status")).To(ContainSubstring("impaired links: web (down)"))
		cli(l, "link", "set", "web", "--up")
		l.Ping("client", "203.0.113.10")
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("node web"))
	})

	It("refuses bad settings and unknown nodes, saying why", func() {
		r := harness.Run(time.Minute, "link", "set", "web", "--loss", "150", "--name", l.Name)
		Expect(r.Code).To(Equal(1))
		Expect(r.Stderr).To(ContainSubstring("--loss must be a percentage"))
		r = harness.Run(time.Minute, "link", "set", "web", "--jitter", "5ms", "--name", l.Name)
		Expect(r.Code).To(Equal(1))
		Expect(r.Stderr).To(ContainSubstring("set a delay too"))
		r = harness.Run(time.Minute, "link", "set", "nobody", "--down", "--name", l.Name)
		Expect(r.Code).To(Equal(1))
		Expect(r.Stderr).To(ContainSubstring(`node "nobody"`))
	})
})

var _ = Describe("a health check forced to fail", func() {
	It("takes the target unhealthy by its thresholds and moves new flows to the other appliance", func() {
		// 20 times faster: checks every 0.5 s of wall time.
		l := harness.Up(harness.Variant(defaultLab(), "\nvpcs:\n", "\nlab: {time_scale: 20}\nvpcs:\n"))
		l.WaitTarget("fw-1", "healthy")
		l.WaitTarget("fw-2", "healthy")
		Expect(cli(l, "targets", "fail-health", "fw-1")).To(ContainSubstring("target fw-1: health checks forced to fail on gwlb-1-az1"))
		l.WaitTarget("fw-1", "unhealthy")
		t := l.Targets()["fw-1"]
		Expect(t.ForcedFailure).To(BeTrue())
		Expect(t.Reason).To(Equal("Target.FailedHealthChecks"))
		Expect(t.LastError).To(Equal(gwlb.ErrForcedFailure.Error()))
		Expect(cli(l, "targets")).To(MatchRegexp(`fw-1 .*unhealthy \[forced\]`))
		Expect(l.NewFlowTargets(20)).To(Equal(map[string]int{"fw-2": 20}), "new flows only to the healthy appliance")

		cli(l, "targets", "clear-health", "fw-1")
		l.WaitTarget("fw-1", "healthy")
		Expect(l.Targets()["fw-1"].ForcedFailure).To(BeFalse())
		Expect(l.NewFlowTargets(30)).To(HaveLen(2), "both appliances take new flows again")
	})
})

// flowsTo returns the GWLB flows whose responder is dst (addr:port).
func flowsTo(l *harness.Lab, dst string) []api.Flow {
	var out []api.Flow
	for _, f := range l.Flows() {
		if f.Dst == dst {
			out = append(out, f)
		}
	}
	return out
}

var _ = Describe("route edits at run time", func() {
	It("move new traffic and leave an established connection that still routes untouched", func() {
		// The default lab with a second internet host.
		l := harness.Up(harness.Variant(defaultLab(), "\n    client:\n", `
    client2:
      ip: 198.51.100.20
      run: {http_echo: {port: 80}}
    client:
`))
		// A long-lived connection from web to client, through the
		// appliances (web's 0.0.0.0/0 goes to gwlbe-1).
		goFile := filepath.Join(GinkgoT().TempDir(), "go")
		script := fmt.Sprintf(`exec 3<>/dev/tcp/198.51.100.10/80
printf 'GET / HTTP/1.1\r\nHost: client\r\n\r\n' >&3
while read -r -t 3 line <&3; do case "$line" in local*) break ;; esac; done
[ "${line%%%% *}" = local ] || exit 10
while [ ! -e %s ]; do sleep 0.05; done
printf 'GET /again HTTP/1.1\r\nHost: client\r\nConnection: close\r\n\r\n' >&3
timeout 5 cat <&3 | grep -q '^node client' || exit 20`, goFile)
		cmd := exec.Command(harness.Binary(), "exec", "--name", l.Name, "web", "--", "bash", "-c", script)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		Expect(cmd.Start()).To(Succeed())
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var established api.Flow
		Eventually(func() []api.Flow {
			fl := flowsTo(l, "198.51.100.10:80")
			if len(fl) == 1 {
				established = fl[0]
			}
			return fl
		}, 20*time.Second, 50*time.Millisecond).Should(HaveLen(1))

		// Before the edit, web's traffic to client2 is inspected too.
		Expect(l.Curl("web", "http://198.51.100.20/")).To(ContainSubstring("node client2"))
		Expect(flowsTo(l, "198.51.100.20:80")).To(HaveLen(1))

		// Send client2 into a blackhole; the route to client stays.
		table := cli(l, "route", "add", "--table", "app", "198.51.100.20/32", "blackhole")
		Expect(table).To(MatchRegexp(`198\.51\.100\.20/32\s+blackhole\s+blackhole`))
		var tables []api.RouteTable
		Expect(json.Unmarshal([]byte(cli(l, "route", "show", "--table", "app", "--json")), &tables)).To(Succeed())
		Expect(tables).To(HaveLen(1))
		Expect(tables[0].Routes).To(ContainElement(api.Route{Destination: "198.51.100.20/32", Target: "blackhole", Kind: "blackhole"}))

		// New traffic to client2 takes the new route...
		before := flowsTo(l, "198.51.100.20:80")
		blackholed := l.Drops()["blackhole"]
		l.Fails("web", "http://198.51.100.20/")
		Expect(l.Drops()["blackhole"]).To(BeNumerically(">", blackholed))
		Expect(flowsTo(l, "198.51.100.20:80")).To(HaveLen(len(before)), "no new GWLB flow to client2")

		// ...and the established connection goes on, in its flow.
		Expect(os.WriteFile(goFile, nil, 0o644)).To(Succeed())
		var err error
		Eventually(done, 30*time.Second).Should(Receive(&err))
		Expect(err).NotTo(HaveOccurred(), "the long-lived connection broke: %s; drops %v %v", out.String(), l.Drops(), l.GWLBDrops())
		after := flowsTo(l, "198.51.100.10:80")
		Expect(after).To(HaveLen(1))
		Expect(after[0].Cookie).To(Equal(established.Cookie))
		Expect(after[0].Target).To(Equal(established.Target))
		Expect(after[0].OrigPackets + after[0].ReplyPackets).To(BeNumerically(">", established.OrigPackets+established.ReplyPackets))

		// A refused edit says why and changes nothing.
		r := harness.Run(time.Minute, "route", "add", "--table", "app", "198.51.100.20/32", "igw-consumer", "--name", l.Name)
		Expect(r.Code).To(Equal(1))
		Expect(r.Stderr).To(ContainSubstring("already has a route for 198.51.100.20/32"))
		r = harness.Run(time.Minute, "route", "add", "--table", "edge", "198.51.100.0/24", "gwlbe-1", "--name", l.Name)
		Expect(r.Code).To(Equal(1))
		Expect(r.Stderr).To(ContainSubstring("gateway route table only routes traffic into the vpc"))

		// Deleting the route sends client2's traffic through the appliances again.
		cli(l, "route", "delete", "--table", "app", "198.51.100.20/32", "blackhole")
		Expect(l.Curl("web", "http://198.51.100.20/")).To(ContainSubstring("node client2"))
		Expect(len(flowsTo(l, "198.51.100.20:80"))).To(BeNumerically(">", len(before)))
	})
})

var _ = Describe("runtime edits and emulator restart", func() {
	It("applies the edits in force again when the emulator restarts", func() {
		l := harness.Up(defaultLab())
		cli(l, "link", "set", "web", "--loss", "100")
		cli(l, "route", "add", "--table", "app", "192.0.2.0/24", "blackhole")
		cli(l, "targets", "fail-health", "fw-2")
		Expect(cli(l, "emulator", "restart")).To(ContainSubstring("runtime edits apply again"))
		Eventually(func() int {
			return harness.Run(time.Minute, "link", "show", "--name", l.Name).Code
		}, 20*time.Second, 100*time.Millisecond).Should(Equal(0))
		web := links(l)["web"]
		Expect(web.LossPercent).To(Equal(100.0))
		Expect(cli(l, "route", "show", "--table", "app")).To(MatchRegexp(`192\.0\.2\.0/24\s+blackhole`))
		Expect(l.Targets()["fw-2"].ForcedFailure).To(BeTrue())
		_, received, _ := ping(l, "client", "203.0.113.10", 5, "0.2")
		Expect(received).To(Equal(0), "web's link still loses everything")
		cli(l, "link", "clear", "web")
		l.Ping("client", "203.0.113.10")
	})
})
