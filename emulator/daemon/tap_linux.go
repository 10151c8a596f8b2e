package daemon

import (
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/fabric"
	"github.com/gwlb-lab/gwlb-lab/emulator/port"
)

// OpenTAP is the production Opener: the persistent TAP that `up` made in
// the node's namespace.
func OpenTAP(e config.ENI) (fabric.Port, error) {
	return port.OpenTAP(e.NetNS, e.Interface)
}
