package gwlb

// Reason is why a GWLB node dropped a packet.
type Reason uint8

// Drop reasons; String gives the stable names shown to users.
const (
	DropMalformed             Reason = iota // inner packet did not parse
	DropTCPNoFlow                           // TCP packet other than a SYN with no flow (spec §3.3)
	DropNoTarget                            // no target registered for the node's zone
	DropTargetUnavailable                   // flow pinned to a target that cannot take traffic (spec §4.3)
	DropReturnMalformed                     // returned frame is not valid GENEVE over IPv4/UDP 6081
	DropReturnVNI                           // returned VNI is not 0
	DropReturnOptionMissing                 // an AWS option (class 0x0108 type 1, 2 or 3) is missing
	DropReturnOptionLength                  // an AWS option has the wrong length
	DropReturnOptionDuplicate               // an AWS option appears twice
	DropReturnCriticalOption                // an unknown option with the critical bit
	DropReturnUnknownEndpoint               // endpoint id of no endpoint of this node
	DropReturnUnknownFlow                   // no live flow: the appliance cannot start flows (spec §2.4)
	DropReturnCookieMismatch                // flow cookie differs from the flow's (stale header, spec §2.3)
	DropReturnWrongTarget                   // returned by an address that is not the flow's target
	DropStray                               // for the node's address, neither GENEVE nor an answer to its own health checks
	DropFragmentOrphaned                    // a later IPv4 fragment whose first fragment did not come (frag.go)
	DropFlowLimit                           // a new flow while the node holds max_flows_per_node flows
	numReasons
)

var reasonNames = [numReasons]string{
	DropMalformed:             "malformed_inner",
	DropTCPNoFlow:             "tcp_no_flow",
	DropNoTarget:              "no_target",
	DropTargetUnavailable:     "target_unavailable",
	DropReturnMalformed:       "return_malformed",
	DropReturnVNI:             "return_bad_vni",
	DropReturnOptionMissing:   "return_option_missing",
	DropReturnOptionLength:    "return_option_length",
	DropReturnOptionDuplicate: "return_option_duplicate",
	DropReturnCriticalOption:  "return_critical_option",
	DropReturnUnknownEndpoint: "return_unknown_endpoint",
	DropReturnUnknownFlow:     "return_unknown_flow",
	DropReturnCookieMismatch:  "return_cookie_mismatch",
	DropReturnWrongTarget:     "return_from_non_target",
	DropStray:                 "stray_to_node",
	DropFragmentOrphaned:      "fragment_orphaned",
	DropFlowLimit:             "flow_limit",
}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}
