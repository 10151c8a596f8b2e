package scenarios

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	"github.com/gwlb-lab/gwlb-lab/lab/runner"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// shipped lists the scenario files of scenarios/seeds and
// scenarios/mistakes, one table entry each.
func shipped() []TableEntry {
	var entries []TableEntry
	for _, dir := range []string{"seeds", "mistakes"} {
		files, err := filepath.Glob(filepath.Join(harness.RepoRoot(), "scenarios", dir, "*.yaml"))
		if err != nil {
			panic(err)
		}
		sort.Strings(files)
		for _, f := range files {
			entries = append(entries, Entry(dir+"/"+filepath.Base(f), f))
		}
	}
	return entries
}

// run runs `scenario run` on file under a random lab name, makes sure the
// lab is gone afterwards, and returns the result.
func run(file string, extra ...string) (harness.Result, string) {
	harness.RequireRoot()
	name := harness.RandomName()
	DeferCleanup(func() {
		// The runner removes its lab; a run killed by its timeout may not.
		if _, err := os.Stat(filepath.Join("/run/gwlb-lab", name)); err == nil {
			r := harness.Run(2*time.Minute, "down", "--name", name)
			Expect(r.Code).To(Equal(0), "down: %s%s", r.Stdout, r.Stderr)
		}
	})
	args := append([]string{"scenario", "run", file, "--name", name}, extra...)
	return harness.Run(4*time.Minute, args...), name
}

// failures lists what did not hold, for the failure message.
func failures(rep *runner.Report) string {
	var b strings.Builder
	for _, f := range rep.Files {
		fmt.Fprintf(&b, "%s: %s %s\n", f.File, f.Status, f.Error)
		for _, s := range f.Steps {
			if s.Status == runner.StatusError {
				fmt.Fprintf(&b, "  %s %s: %s\n", s.Path, s.Kind, s.Error)
			}
			for _, e := range s.Expectations {
				if e.Status != runner.StatusPass {
					fmt.Fprintf(&b, "  %s %s %s: expected %s, observed %s\n    %s\n", e.Path, e.Kind, e.Spec, e.Expected, e.Observed, strings.Join(e.Evidence, "\n    "))
				}
			}
		}
	}
	return b.String()
}

var _ = Describe("scenario run", func() {
	DescribeTable("every shipped scenario file passes",
		func(file string) {
			r, name := run(file, "--json")
			var rep runner.Report
			Expect(json.Unmarshal([]byte(r.Stdout), &rep)).To(Succeed(), "JSON report:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
			Expect(rep.Files).To(HaveLen(1))
			f := rep.Files[0]
			if f.Unsupported != "" {
				Skip("needs what this build or host lacks: " + f.Unsupported)
			}
			Expect(r.Code).To(Equal(0), "%s\nstderr:\n%s", failures(&rep), r.Stderr)
			Expect(f.Status).To(Equal(runner.StatusPass))
			Expect(f.Lab).To(Equal(name))
			Expect(filepath.Join("/run/gwlb-lab", name)).NotTo(BeADirectory(), "the runner left its lab up")
		},
		shipped(),
	)

	It("fails a file whose expectation is wrong, naming the hop, zone and appliance", func() {
		// The stale-cookie file expects its inbound flow to be blocked;
		// claim it reaches.
		file := harness.Variant(filepath.Join(harness.RepoRoot(), "scenarios", "mistakes", "11-stale-cookie-broken.yaml"),
			"- blocked: {traffic: inbound}", "- reaches: {traffic: inbound}")
		junit := filepath.Join(GinkgoT().TempDir(), "report.xml")
		r, _ := run(file, "--junit", junit)
		Expect(r.Code).To(Equal(1), "stdout:\n%s\nstderr:\n%s", r.Stdout, r.Stderr)
		Expect(r.Stdout).To(ContainSubstring("FAIL  reaches {traffic: inbound}"))
		for _, want := range []string{
			"gwlbe-1 (vpce-", ", az az1): to gwlb node gwlb-1-az1", // the hop and its zone
			"-> target fw-1", // the appliance
			"GENEVE from 10.20.1.11 refused: return_cookie_mismatch", // its return, refused
			"return_cookie_mismatch +",                               // the drop counter that moved
		} {
			Expect(r.Stdout).To(ContainSubstring(want), "report:\n%s", r.Stdout)
		}

		var suites struct {
			Suites []struct {
				Cases []struct {
					Name    string `xml:"name,attr"`
					Failure *struct {
						Text string `xml:",chardata"`
					} `xml:"failure"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		b, err := os.ReadFile(junit)
		Expect(err).NotTo(HaveOccurred())
		Expect(xml.Unmarshal(b, &suites)).To(Succeed())
		Expect(suites.Suites).To(HaveLen(1))
		Expect(suites.Suites[0].Cases).To(HaveLen(2))
		c := suites.Suites[0].Cases[0]
		Expect(c.Failure).NotTo(BeNil(), "case %s", c.Name)
		Expect(c.Failure.Text).To(ContainSubstring("gwlb node gwlb-1-az1"))
		Expect(suites.Suites[0].Cases[1].Failure).To(BeNil())
	})

	It("removes the lab when interrupted, and reports the step it stopped at", func() {
		harness.RequireRoot()
		name := harness.RandomName()
		DeferCleanup(func() {
			if _, err := os.Stat(filepath.Join("/run/gwlb-lab", name)); err == nil {
				harness.Run(2*time.Minute, "down", "--name", name)
			}
		})
		file := filepath.Join(harness.RepoRoot(), "scenarios", "seeds", "draining.yaml")
		cmd := exec.Command(harness.Binary(), "scenario", "run", file, "--json", "--name", name)
		var out bytes.Buffer
		cmd.Stdout = &out
		stderr, err := cmd.StderrPipe()
		Expect(err).NotTo(HaveOccurred())
		Expect(cmd.Start()).To(Succeed())
		exited := make(chan error, 1)
		// Interrupt it while its background traffic runs.
		lines := bufio.NewScanner(stderr)
		interrupted := false
		for lines.Scan() {
			if !interrupted && strings.Contains(lines.Text(), "steps[5] wait") {
				Expect(cmd.Process.Signal(os.Interrupt)).To(Succeed())
				interrupted = true
			}
		}
		go func() { exited <- cmd.Wait() }()
		Eventually(exited, 2*time.Minute).Should(Receive())
		Expect(interrupted).To(BeTrue(), "the run never reached steps[5]")
		Expect(cmd.ProcessState.ExitCode()).To(Equal(1))
		Expect(filepath.Join("/run/gwlb-lab", name)).NotTo(BeADirectory(), "the interrupted run left its lab up")
		var rep runner.Report
		Expect(json.Unmarshal(out.Bytes(), &rep)).To(Succeed(), out.String())
		f := rep.Files[0]
		Expect(f.Status).To(Equal(runner.StatusError))
		Expect(f.Error).To(ContainSubstring("interrupted: interrupt signal received"))
		Expect(f.Steps[len(f.Steps)-1].Status).To(Equal(runner.StatusSkipped))
	})
})
