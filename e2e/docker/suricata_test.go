package docker

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// images runs scripts/images.sh with the test's binary, adding only content
// tags, and returns its output.
func images(what ...string) string {
	GinkgoHelper()
	args := append([]string{filepath.Join(harness.RepoRoot(), "scripts", "images.sh"), harness.Binary(), "test"}, what...)
	cmd := exec.Command("bash", args...)
	cmd.Env = append(os.Environ(), "IMAGES_CONTENT_ONLY=1")
	out, err := cmd.CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "scripts/images.sh %s: %s", strings.Join(what, " "), out)
	return string(out)
}

// contentTag is the tag scripts/images.sh gives image from its recipe.
func contentTag(image string) string {
	GinkgoHelper()
	out, err := exec.Command("bash", filepath.Join(harness.RepoRoot(), "scripts", "images.sh"), "tag", image).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "scripts/images.sh tag %s: %s", image, out)
	return strings.TrimSpace(string(out))
}

// eveAlert is the part of a Suricata eve.json alert the spec reads.
type eveAlert struct {
	EventType string `json:"event_type"`
	SrcIP     string `json:"src_ip"`
	DestIP    string `json:"dest_ip"`
	DestPort  int    `json:"dest_port"`
	Proto     string `json:"proto"`
	Alert     struct {
		SignatureID int    `json:"signature_id"`
		Signature   string `json:"signature"`
	} `json:"alert"`
}

// alerts reads the alerts of an eve.json written so far.
func alerts(path string) []eveAlert {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []eveAlert
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var a eveAlert
		if json.Unmarshal(sc.Bytes(), &a) == nil && a.EventType == "alert" {
			out = append(out, a)
		}
	}
	return out
}

var _ = Describe("the Suricata appliance image", Ordered, func() {
	var suricata string

	BeforeAll(func() {
		// The first build makes the Debian base with debootstrap and
		// installs Suricata from bookworm-backports: minutes, once.
		images("suricata")
		suricata = contentTag("suricata")
		Expect(suricata).To(MatchRegexp(`^gwlb-lab-suricata:r-[0-9a-f]{16}$`))
	})

	It("is built once per recipe: a second build only finds it", func() {
		base := contentTag("debian")
		ids := map[string]string{}
		for _, img := range []string{base, suricata} {
			ids[img] = docker("image", "inspect", "-f", "{{.Id}}", img)
		}
		out := images("debian", "suricata")
		Expect(out).To(ContainSubstring(base + " is up to date"))
		Expect(out).To(ContainSubstring(suricata + " is up to date"))
		Expect(out).NotTo(ContainSubstring("debootstrap"))
		Expect(out).NotTo(ContainSubstring("Step 1"))
		for img, id := range ids {
			Expect(docker("image", "inspect", "-f", "{{.Id}}", img)).To(Equal(id), img)
		}
		// A Debian root filesystem, with the Suricata from backports.
		Expect(docker("run", "--rm", "--network", "none", base, "cat", "/etc/debian_version")).To(HavePrefix("12."))
		Expect(docker("run", "--rm", "--network", "none", suricata, "suricata", "-V")).To(MatchRegexp(`Suricata version 7\.`))
	})

	It("logs an alert with the inner addresses of a request sent through the GWLB", func() {
		l := harness.Up(harness.Variant("testdata/suricata.yaml", "SURICATA", `"`+suricata+`"`))
		// The image opens its health port only once Suricata captures:
		// the target turns healthy then, by its health checks.
		l.WaitTarget("ids-1", "healthy")

		// The image's own command learnt who it is, as a namespace node's
		// program does, and logs where GWLB_LOGDIR says, on the host too.
		r := l.Exec("ids-1", "sh", "-c", "echo $GWLB_LAB $GWLB_NODE $GWLB_ADDR $GWLB_NODES $GWLB_LOGDIR")
		Expect(r.Code).To(Equal(0), r.Stderr)
		logdir := filepath.Join(l.StateDir(), "logs", "ids-1")
		Expect(strings.Fields(r.Stdout)).To(Equal([]string{l.Name, "ids-1", "10.20.1.11", "10.20.0.50", logdir}))
		Expect(filepath.Join(logdir, "suricata.log")).To(BeARegularFile())

		// The hairpin returns each packet to the GWLB: the request and
		// its answer pass, both ways.
		Expect(l.Curl("client", "http://203.0.113.10/gwlb-lab-canary")).To(ContainSubstring("node web"))

		eve := filepath.Join(logdir, "eve.json")
		Eventually(func() []eveAlert { return alerts(eve) }, 30*time.Second, 200*time.Millisecond).Should(
			ContainElement(SatisfyAll(
				HaveField("Alert.SignatureID", 9000001),
				HaveField("SrcIP", "198.51.100.10"),
				HaveField("DestIP", "10.0.1.10"),
				HaveField("DestPort", 80),
				HaveField("Proto", "TCP"),
			)), "Suricata in ids-1 raised no alert with the inner addresses (eve.json %s)", eve)

		// A request without the canary raises none.
		n := len(alerts(eve))
		Expect(l.Curl("client", "http://203.0.113.10/plain")).To(ContainSubstring("node web"))
		Consistently(func() int { return len(alerts(eve)) }, 2*time.Second, 200*time.Millisecond).Should(Equal(n))
	})
})
