package fabric

import (
	"slices"
	"testing"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

// TestDropReasonNamesPublished keeps api.FabricDropReasons, which programs
// check names against, equal to the reasons the fabric counts.
func TestDropReasonNamesPublished(t *testing.T) {
	var got []string
	for r := range numReasons {
		got = append(got, r.String())
	}
	if !slices.Equal(got, api.FabricDropReasons) {
		t.Errorf("api.FabricDropReasons = %q\nthe fabric counts     %q", api.FabricDropReasons, got)
	}
}
