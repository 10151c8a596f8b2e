package scenario

import (
	"github.com/gwlb-lab/gwlb-lab/emulator/fabric"
	"github.com/gwlb-lab/gwlb-lab/emulator/gwlb"
)

// dropReasons returns the names of every drop counter the emulator keeps:
// the fabric's and the GWLB nodes'. Both lists are read from the emulator,
// so a reason added there is known here without a change.
func dropReasons() map[string]bool {
	out := map[string]bool{}
	for r := range 256 {
		name := fabric.Reason(r).String()
		if name == "unknown" {
			break
		}
		out[name] = true
	}
	for r := range 256 {
		name := gwlb.Reason(r).String()
		if name == "unknown" {
			break
		}
		out[name] = true
	}
	return out
}
