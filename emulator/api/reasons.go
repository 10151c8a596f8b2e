package api

// FabricDropReasons names every drop counter of the data plane (the keys of
// Counters.Drops), in the emulator's order. emulator/fabric's tests keep it
// equal to the reasons the fabric counts, so a program can check a reason's
// name (a scenario file's expectation) without importing the data plane.
var FabricDropReasons = []string{
	"malformed", "not_ip", "broadcast", "unknown_mac", "source_check", "dest_check", "no_route",
	"blackhole", "no_such_address", "to_router", "igw_no_public_ip", "internet_no_route",
	"nat_no_mapping", "nat_ports_exhausted", "nat_unsupported", "endpoint_unavailable",
	"endpoint_not_accepted", "endpoint_packet_too_big", "gwlb", "routing_loop",
	"port_write_failed", "ipv6_link_local", "endpoint_loop", "arp_no_owner", "ndp_no_owner",
	"link_down", "link_loss", "link_queue_full", "tgw_no_route", "tgw_blackhole",
	"tgw_no_attachment_in_az", "port_queue_full",
}

// GWLBDropReasons names every drop counter of a GWLB node (the keys of
// GWLBNode.Drops), in the emulator's order; emulator/gwlb's tests keep it
// equal to the reasons the nodes count.
var GWLBDropReasons = []string{
	"malformed_inner", "tcp_no_flow", "no_target", "target_unavailable", "return_malformed",
	"return_bad_vni", "return_option_missing", "return_option_length", "return_option_duplicate",
	"return_critical_option", "return_unknown_endpoint", "return_unknown_flow",
	"return_cookie_mismatch", "return_from_non_target", "stray_to_node", "fragment_orphaned",
	"flow_limit", "return_control_packet",
}
