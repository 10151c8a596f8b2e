package scenario

import "github.com/gwlb-lab/gwlb-lab/emulator/api"

// dropReasons returns the names of every drop counter the emulator keeps:
// the fabric's and the GWLB nodes'. emulator/api publishes both lists, and
// the emulator's tests keep them equal to what it counts.
func dropReasons() map[string]bool {
	out := map[string]bool{}
	for _, list := range [][]string{api.FabricDropReasons, api.GWLBDropReasons} {
		for _, name := range list {
			out[name] = true
		}
	}
	return out
}
