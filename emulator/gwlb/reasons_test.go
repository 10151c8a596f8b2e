package gwlb

import (
	"slices"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

// TestDropReasonNamesPublished keeps api.GWLBDropReasons, which programs
// check names against, equal to the reasons the GWLB nodes count.
func TestDropReasonNamesPublished(t *testing.T) {
	var got []string
	for r := range numReasons {
		got = append(got, r.String())
	}
	if !slices.Equal(got, api.GWLBDropReasons) {
		t.Errorf("api.GWLBDropReasons = %q\nthe GWLB nodes count     %q", api.GWLBDropReasons, got)
	}
}
