package gwlb

import (
	"fmt"
	"regexp"
	"time"

	"github.com/gwlb-lab/gwlb-lab/appliance"
	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Addresses of testdata/dualstack.yaml: web is app's IPv6 prefix plus its
// IPv4 host number; the client's is written in the file.
const (
	dualstack = "testdata/dualstack.yaml"
	web6      = "2600:1f18:0:101::a"
	client6   = "2001:db8:1::10"
)

var echoRemote6 = regexp.MustCompile(`remote \[([0-9a-f:]+)\]:(\d+)`)

// seen6 finds, across the appliances, the flow-log records of the flow
// between a and b (port 0: any) with proto.
func seen6(l *harness.Lab, a string, aPort uint16, b string, bPort uint16, proto uint8) map[string][]appliance.FlowRecord {
	out := map[string][]appliance.FlowRecord{}
	is := func(addr string, port uint16, want string, wantPort uint16) bool {
		return addr == want && (wantPort == 0 || port == wantPort)
	}
	for _, fw := range []string{"fw-1", "fw-2"} {
		for _, r := range l.FlowLog(fw) {
			if r.Proto != proto || r.Event != "flow" {
				continue
			}
			if (is(r.Src, r.SrcPort, a, aPort) && is(r.Dst, r.DstPort, b, bPort)) || (is(r.Src, r.SrcPort, b, bPort) && is(r.Dst, r.DstPort, a, aPort)) {
				out[fw] = append(out[fw], r)
			}
		}
	}
	return out
}

// bothWays6 asserts that exactly one appliance logged the IPv6 flow, in
// both directions.
func bothWays6(l *harness.Lab, a string, aPort uint16, b string, bPort uint16, proto uint8) {
	Eventually(func() map[string][]appliance.FlowRecord { return seen6(l, a, aPort, b, bPort, proto) }, 10*time.Second, 100*time.Millisecond).
		Should(HaveLen(1), "flow [%s]:%d <-> [%s]:%d/%d on exactly one appliance", a, aPort, b, bPort, proto)
	for fw, recs := range seen6(l, a, aPort, b, bPort, proto) {
		dirs := map[string]bool{}
		for _, r := range recs {
			dirs[r.Dir] = true
		}
		Expect(dirs).To(HaveKey("original"), "%s saw [%s]:%d -> [%s]:%d", fw, a, aPort, b, bPort)
		Expect(dirs).To(HaveKey("reply"), "%s saw the reply of [%s]:%d -> [%s]:%d", fw, a, aPort, b, bPort)
	}
}

// curl6 fetches http://[addr]/ over IPv6 from node, retrying while the path
// comes up (neighbor discovery, health checks), and returns the body.
func curl6(l *harness.Lab, node, addr string) string {
	var out string
	Eventually(func() error {
		r := l.Exec(node, "curl", "-6", "-g", "-s", "--max-time", "3", "http://["+addr+"]/")
		if r.Code != 0 {
			return fmt.Errorf("curl [%s] from %s: exit %d %s", addr, node, r.Code, r.Stderr)
		}
		out = r.Stdout
		return nil
	}, 20*time.Second, 200*time.Millisecond).Should(Succeed())
	return out
}

func port(s string) uint16 {
	var p uint16
	_, err := fmt.Sscan(s, &p)
	Expect(err).NotTo(HaveOccurred())
	return p
}

var _ = Describe("IPv6 through the GWLB (dualstack)", Ordered, func() {
	var l *harness.Lab
	BeforeAll(func() { l = harness.Up(dualstack) })

	It("carries ingress TCP over IPv6 through an appliance both ways, untranslated", func() {
		out := curl6(l, "client", web6)
		Expect(out).To(ContainSubstring("node web\n"))
		m := echoRemote6.FindStringSubmatch(out)
		Expect(m).NotTo(BeNil(), out)
		Expect(m[1]).To(Equal(client6), "neither the IGW nor the GWLB translates IPv6")
		bothWays6(l, client6, port(m[2]), web6, 80, 6)
	})
	It("carries egress TCP over IPv6 the same way", func() {
		out := curl6(l, "web", client6)
		Expect(out).To(ContainSubstring("node client\n"))
		m := echoRemote6.FindStringSubmatch(out)
		Expect(m).NotTo(BeNil(), out)
		Expect(m[1]).To(Equal(web6), "the instance's IPv6 address leaves unchanged")
		bothWays6(l, web6, port(m[2]), client6, 80, 6)
	})
	It("carries UDP and ICMPv6 over IPv6, both directions", func() {
		out := l.ProbeUDP("client", "["+web6+"]:80")
		m := echoRemote6.FindStringSubmatch(out)
		Expect(m).NotTo(BeNil(), out)
		Expect(m[1]).To(Equal(client6))
		bothWays6(l, client6, port(m[2]), web6, 80, 17)

		out = l.ProbeUDP("web", "["+client6+"]:80")
		m = echoRemote6.FindStringSubmatch(out)
		Expect(m).NotTo(BeNil(), out)
		bothWays6(l, web6, port(m[2]), client6, 80, 17)

		l.Ping("client", web6, "-6")
		l.Ping("web", client6, "-6")
		bothWays6(l, client6, 0, web6, 0, 58)
	})
	It("still carries IPv4 in the same lab", func() {
		out := l.Curl("client", "http://203.0.113.10/")
		m := echoRemote.FindStringSubmatch(out)
		Expect(m).NotTo(BeNil(), out)
		Expect(m[1]).To(Equal("198.51.100.10"))
		bothWays(l, "198.51.100.10:"+m[2], "10.0.1.10:80", 6)
	})
	It("counts no forwarding errors", func() {
		drops := l.Drops()
		for _, reason := range []string{"malformed", "not_ip", "source_check", "dest_check", "no_route", "no_such_address", "unknown_mac", "broadcast"} {
			Expect(drops[reason]).To(BeZero(), "drop reason %s: %v", reason, drops)
		}
	})
})

var _ = Describe("a dualstack mistake (spec §6.6 #15)", func() {
	It("sends IPv6 around the appliance when only IPv4 routes go to the endpoint", func() {
		// The app subnet's ::/0 and the edge route for its IPv6 block go
		// to the internet gateway and away: IPv6 still works, uninspected.
		l := harness.Up(harness.Variant(dualstack,
			`          - {destination: "::/0", target: gwlbe-1}`, `          - {destination: "::/0", target: igw-consumer}`,
			`          - {destination: "2600:1f18:0:101::/64", target: gwlbe-1}`+"\n", ""))
		Expect(curl6(l, "client", web6)).To(ContainSubstring("node web\n"))
		Expect(l.Curl("client", "http://203.0.113.10/")).To(ContainSubstring("node web\n"))
		for _, fw := range []string{"fw-1", "fw-2"} {
			for _, r := range l.FlowLog(fw) {
				Expect(r.Src).NotTo(ContainSubstring(":"), "the appliance saw IPv6: %+v", r)
			}
		}
		for _, f := range l.Flows() {
			Expect(f.Src).NotTo(HavePrefix("["), "the GWLB carried IPv6: %+v", f)
		}
	})
})
