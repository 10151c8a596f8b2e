package lab

import (
	"net/netip"
	"slices"
	"testing"
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
