package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gwlb-lab/gwlb-lab/e2e/harness"
	. "github.com/onsi/gomega"
)

// topology writes a lab of n instances, each running the echo server, in
// subnets of 100 instances, plus one internet host.
func topology(t testing.TB, n int) string {
	var b strings.Builder
	b.WriteString("vpcs:\n  scale:\n    cidr: 10.0.0.0/16\n    internet_gateway: igw\n    subnets:\n")
	subnets := (n + 99) / 100
	for s := range subnets {
		fmt.Fprintf(&b, "      s%d: {az: az1, cidr: 10.0.%d.0/24, route_table: rt}\n", s, s)
	}
	b.WriteString("    route_tables:\n      rt:\n        routes:\n          - {destination: 0.0.0.0/0, target: igw}\n    instances:\n")
	for i := range n {
		fmt.Fprintf(&b, "      i%d: {subnet: s%d, private_ip: 10.0.%d.%d, run: {http_echo: {port: 80}}}\n", i, i/100, i/100, 10+i%100)
	}
	b.WriteString("internet:\n  hosts:\n    client: {ip: 198.51.100.10}\n")
	path := filepath.Join(t.TempDir(), fmt.Sprintf("scale-%d.yaml", n))
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// BenchmarkLabUpDown brings a lab of 10 and of 100 instances up and down and
// reports the wall time of each step (up-s, down-s per operation).
func BenchmarkLabUpDown(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: the lab creates network namespaces and TAP devices")
	}
	RegisterTestingT(b)
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			file := topology(b, n)
			var up, down time.Duration
			for b.Loop() {
				name := harness.RandomName()
				start := time.Now()
				r := harness.Run(5*time.Minute, "up", "-q", "-f", file, "--name", name)
				up += time.Since(start)
				if r.Code != 0 {
					harness.Run(5*time.Minute, "down", "--name", name)
					b.Fatalf("up: %s", r.Stderr)
				}
				start = time.Now()
				r = harness.Run(5*time.Minute, "down", "--name", name)
				down += time.Since(start)
				if r.Code != 0 {
					b.Fatalf("down: %s", r.Stderr)
				}
			}
			b.ReportMetric(up.Seconds()/float64(b.N), "up-s/op")
			b.ReportMetric(down.Seconds()/float64(b.N), "down-s/op")
		})
	}
}
