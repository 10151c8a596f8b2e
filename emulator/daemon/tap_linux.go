package daemon

import (
	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/fabric"
	"github.com/gwlb-lab/gwlb-lab/emulator/port"
)

// OpenTAP is the production Opener: the persistent TAP that `up` made in
// the node's namespace. An ENI with UDPCoalesce gets UDP runs coalesced
// where the node's kernel has USO; where it has not, the port writes each
// datagram alone and its offload status says why.
func OpenTAP(e config.ENI) (fabric.Port, error) {
	t, err := port.OpenTAP(e.NetNS, e.Interface)
	if err != nil {
		return nil, err
	}
	if e.UDPCoalesce {
		_ = t.CoalesceUDP(true) // a refusal shows in OffloadStats
	}
	return t, nil
}
