package appliancesuite

import (
	"context"
	"os"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/gwlblab"
	"github.com/gwlb-lab/gwlb-lab/gwlblab/matchers"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Addresses of lab.yaml. The appliances see the VPC's private addresses.
const (
	client  = "198.51.100.10"
	clientB = "198.51.100.30"
	mirror  = "198.51.100.20"
	webIP   = "10.0.1.10"    // web, as the appliances see it
	webPub  = "203.0.113.10" // web, as the internet sees it
)

// labFile is the topology the suite runs; LAB_FILE picks another (a copy
// with your appliance in fw-1 and fw-2).
func labFile() string {
	if f := os.Getenv("LAB_FILE"); f != "" {
		return f
	}
	return "lab.yaml"
}

// upLab brings a lab up from a topology's text and takes it down after the
// container (the Describe) that called it, failed or not.
func upLab(ctx context.Context, topology []byte) *gwlblab.Lab {
	GinkgoHelper()
	l, err := gwlblab.Up(ctx, gwlblab.Options{Topology: topology, Progress: GinkgoWriter})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx SpecContext) {
		Expect(l.Down(ctx)).To(Succeed())
	}, NodeTimeout(2*time.Minute))
	for _, fw := range []string{"fw-1", "fw-2"} {
		Eventually(matchers.Target(l, fw)).Should(matchers.BeInState("healthy"))
	}
	return l
}

func readLab() []byte {
	GinkgoHelper()
	b, err := os.ReadFile(labFile())
	Expect(err).NotTo(HaveOccurred())
	return b
}

var _ = Describe("the appliance behind the GWLB", Ordered, func() {
	var (
		l      *gwlblab.Lab
		noFlow *matchers.Counter
	)

	BeforeAll(func(ctx SpecContext) {
		l = upLab(ctx, readLab())
		// The GWLB drops a TCP packet without a flow (one whose SYN it
		// never saw): none of that should happen while all is well.
		noFlow = matchers.DropCounter(l, "tcp_no_flow")
	}, NodeTimeout(3*time.Minute))

	It("inspects inbound traffic: client reaches web, through one appliance both ways", func(ctx SpecContext) {
		Expect(matchers.TCP(l, "client", webPub, 80)).To(matchers.Reach())
		body, err := l.Curl(ctx, "client", "http://"+webPub+"/")
		Expect(err).NotTo(HaveOccurred())
		Expect(body).To(ContainSubstring("node web"))

		in := matchers.Conn(l, client, webIP, "tcp")
		Eventually(in).Should(Or(matchers.Traverse("fw-1"), matchers.Traverse("fw-2")))
		Eventually(in).Should(matchers.BeSymmetric())
	})

	It("inspects outbound traffic: web reaches the mirror, through one appliance both ways", func(ctx SpecContext) {
		Expect(matchers.TCP(l, "web", mirror, 80)).To(matchers.Reach())
		body, err := l.Curl(ctx, "web", "http://"+mirror+"/")
		Expect(err).NotTo(HaveOccurred())
		Expect(body).To(ContainSubstring("node mirror"))

		out := matchers.Conn(l, webIP, mirror, "tcp")
		Eventually(out).Should(Or(matchers.Traverse("fw-1"), matchers.Traverse("fw-2")))
		Eventually(out).Should(matchers.BeSymmetric())
		Expect(noFlow).To(matchers.StayZero())
	})

	It("fails over: when fw-1 fails its health checks, new flows land on fw-2", func(ctx SpecContext) {
		// The same as the appliance no longer answering its health checks;
		// l.Node("fw-1").Stop(ctx) stops the appliance itself instead.
		_, err := l.FailHealth(ctx, "fw-1")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			_, err := l.ClearHealth(ctx, "fw-1")
			Expect(err).NotTo(HaveOccurred())
			Eventually(matchers.Target(l, "fw-1")).Should(matchers.BeInState("healthy"))
		})
		Eventually(matchers.Target(l, "fw-1")).Should(matchers.BeInState("unhealthy"))
		Expect(matchers.Target(l, "fw-2")).To(matchers.BeInState("healthy"))

		// client-b has sent nothing yet: all its connections are new
		// flows, and with two healthy appliances some of eight would
		// have gone to fw-1.
		for range 8 {
			_, err := l.Curl(ctx, "client-b", "http://"+webPub+"/")
			Expect(err).NotTo(HaveOccurred())
		}
		fresh := matchers.Conn(l, clientB, webIP, "tcp")
		Expect(fresh).To(matchers.LandOnOneTarget())
		Eventually(fresh).Should(matchers.Traverse("fw-2"))
		Expect(fresh).NotTo(matchers.Traverse("fw-1", "original"))
	})
})

// The edge route table removed: a routing mistake AWS accepts as well.
var _ = Describe("the mistake: no edge route on the internet gateway", Ordered, func() {
	const edge = `      edge:
        edge_association: igw-consumer
        routes:
          - {destination: 10.0.1.0/24, target: gwlbe-1}
`
	var l *gwlblab.Lab

	BeforeAll(func(ctx SpecContext) {
		topology := readLab()
		broken := strings.Replace(string(topology), edge, "", 1)
		Expect(broken).NotTo(Equal(string(topology)), "%s has no edge route table to remove", labFile())
		l = upLab(ctx, []byte(broken))
	}, NodeTimeout(3*time.Minute))

	It("lets inbound traffic bypass the appliances, and the GWLB drops web's answers", func() {
		noFlow := matchers.DropCounter(l, "tcp_no_flow")
		Expect(matchers.TCP(l, "client", webPub, 80)).To(matchers.BeBlocked())
		// The SYN went straight to web; its SYN-ACK went into the
		// endpoint, and the GWLB, which never saw the SYN, dropped it.
		Expect(noFlow).To(matchers.HaveRisen())
		in := matchers.Conn(l, client, webIP, "tcp")
		Expect(in).NotTo(Or(matchers.Traverse("fw-1", "original"), matchers.Traverse("fw-2", "original")))
	})

	It("lets outbound traffic through, but the appliances see one direction of it only", func() {
		Expect(matchers.TCP(l, "web", mirror, 80)).To(matchers.Reach())
		// web's packets go into the endpoint (its subnet's default
		// route); the answers come in through the internet gateway,
		// which now delivers them straight to web.
		out := matchers.Conn(l, webIP, mirror, "tcp")
		Eventually(out).Should(Or(matchers.Traverse("fw-1", "original"), matchers.Traverse("fw-2", "original")))
		Expect(out).NotTo(matchers.BeSymmetric())
	})
})
