package lab

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/scenarios"
)

func TestAppliancesAnswerOnlyTheirGWLBNodes(t *testing.T) {
	l := resolveDefault(t)
	for node, want := range map[string][]netip.Addr{
		"fw-1": {netip.MustParseAddr("10.20.0.50")},
		"fw-2": {netip.MustParseAddr("10.20.0.50")},
		"web":  nil, // no GWLB sends it GENEVE
	} {
		n, ok := l.Node(node)
		if !ok {
			t.Fatalf("no node %q in the default lab", node)
		}
		if got := gwlbNodesFor(l, n); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", node, got, want)
		}
	}
}

// An instance no target group lists may be registered at run time in a
// GWLB of its VPC: it answers that GWLB's nodes.
func TestUnlistedApplianceAnswersItsVPCsGWLB(t *testing.T) {
	src := strings.Replace(string(scenarios.Default()), "      fw-2:\n", `      fw-3:
        subnet: appliances
        private_ip: 10.20.1.13
        run: {appliance: {mode: forward, health_port: 80}}
      fw-2:
`, 1)
	l := resolveSrc(t, []byte(src), "default.yaml")
	n, ok := l.Node("fw-3")
	if !ok {
		t.Fatal("no fw-3")
	}
	if got, want := gwlbNodesFor(l, n), []netip.Addr{netip.MustParseAddr("10.20.0.50")}; !slices.Equal(got, want) {
		t.Fatalf("fw-3: %v, want %v", got, want)
	}
}
