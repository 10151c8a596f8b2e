package faults

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// inNS runs fn on a thread inside the network namespace at path; sockets
// opened there stay in that namespace.
func inNS(path string, fn func() error) error {
	n, err := ns.GetNS(path)
	if err != nil {
		return err
	}
	defer n.Close()
	return n.Do(func(ns.NetNS) error { return fn() })
}

// slowRules is an nftables ruleset of 20,000 rules that match nothing, on
// the prerouting hook: every packet the node receives walks all of them,
// so its stack takes a few thousand packets a second at most. The
// emulator's write to the node's TAP is what runs that stack.
func slowRules() string {
	var b strings.Builder
	b.WriteString("table inet gwlbslow {\n chain pre {\n  type filter hook prerouting priority -300; policy accept;\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "  ip saddr 192.0.2.%d udp dport %d counter\n", i%250+1, i+1)
	}
	b.WriteString(" }\n}\n")
	return b.String()
}

var _ = Describe("a node that takes frames slowly", func() {
	It("does not stall traffic between other nodes, and its dropped frames are counted", func() {
		l := harness.Up(filepath.Join("testdata", "slow-node.yaml"))
		netns := func(node string) string { return "/run/netns/gwlb-" + l.Name + "-" + node }
		rules := filepath.Join(GinkgoT().TempDir(), "slow.nft")
		Expect(os.WriteFile(rules, []byte(slowRules()), 0o600)).To(Succeed())
		out, err := exec.Command("ip", "netns", "exec", "gwlb-"+l.Name+"-slow", "nft", "-f", rules).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "nft: %s", out)

		// b echoes UDP; a asks it every 20 ms and times the answers.
		var echo net.PacketConn
		Expect(inNS(netns("b"), func() (err error) { echo, err = net.ListenPacket("udp", ":7"); return err })).To(Succeed())
		DeferCleanup(echo.Close)
		go func() {
			buf := make([]byte, 2048)
			for {
				n, from, err := echo.ReadFrom(buf)
				if err != nil {
					return
				}
				_, _ = echo.WriteTo(buf[:n], from)
			}
		}()
		var toB, toSlow net.Conn
		Expect(inNS(netns("a"), func() (err error) {
			if toB, err = net.Dial("udp", "10.30.1.11:7"); err != nil {
				return err
			}
			toSlow, err = net.Dial("udp", "10.30.1.12:9")
			return err
		})).To(Succeed())
		DeferCleanup(toB.Close)
		DeferCleanup(toSlow.Close)
		// ask sends one request to b and reports how long the answer took
		// (false: none within 1 s).
		buf := make([]byte, 64)
		ask := func(i int) (time.Duration, bool) {
			msg := fmt.Appendf(nil, "q%d", i)
			start := time.Now()
			_, _ = toB.Write(msg)
			_ = toB.SetReadDeadline(start.Add(time.Second))
			for {
				n, err := toB.Read(buf)
				if err != nil {
					return 0, false
				}
				if string(buf[:n]) == string(msg) {
					return time.Since(start), true
				}
			}
		}
		Eventually(func() bool { _, ok := ask(-1); return ok }, 20*time.Second, 100*time.Millisecond).Should(BeTrue(), "b answers a")

		// a floods slow: about 20,000 datagrams a second for 6 s (bursts
		// of 100 every 5 ms), which the emulator reads with ease and slow
		// cannot take.
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			msg := make([]byte, 36)
			for {
				select {
				case <-stop:
					return
				default:
				}
				for range 100 {
					_, _ = toSlow.Write(msg)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
		// slow cannot keep up: its write queue fills and overflows.
		Eventually(func() uint64 { return l.Drops()["port_queue_full"] }, 20*time.Second, 100*time.Millisecond).
			Should(BeNumerically(">", 0), "slow's queue overflows under the flood")
		// Meanwhile the emulator's reader of a carries a's requests to b
		// too: they must not wait for slow.
		const asks = 150
		answered, total := 0, time.Duration(0)
		for i := range asks {
			if d, ok := ask(i); ok {
				answered++
				total += d
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(stop)
		wg.Wait()
		Expect(answered).To(BeNumerically(">=", asks*9/10), "a's requests to b answered while slow is flooded (drops %v)", l.Drops())
		Expect(total/time.Duration(max(answered, 1))).To(BeNumerically("<", 50*time.Millisecond), "average round trip a -> b")

		// The frames slow lost are counted for the lab and for its port.
		drops := l.Drops()
		for _, pc := range l.Counters().Ports {
			if pc.Node == "slow" {
				Expect(pc.QueueFull).To(Equal(drops["port_queue_full"]))
			} else {
				Expect(pc.QueueFull).To(BeZero(), "%s's queue", pc.Node)
			}
		}
		GinkgoWriter.Printf("answered %d/%d, average %s; drops %v\n", answered, asks, total/time.Duration(max(answered, 1)), drops)
	})
})
