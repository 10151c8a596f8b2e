package fabric

// Reason is why the fabric dropped a packet.
type Reason uint8

// Drop reasons. The names (see String) are what users see in status output,
// so they are stable.
const (
	DropMalformed           Reason = iota // frame or packet failed to parse
	DropNotIP                             // an EtherType the lab does not carry (neither ARP, IPv4 nor IPv6)
	DropBroadcast                         // broadcast or multicast that is not ARP
	DropUnknownMAC                        // unicast to a MAC that is neither the router nor a neighbour
	DropSourceCheck                       // source/destination check: sender's address is not its own
	DropDestCheck                         // source/destination check: receiver is not the destination
	DropNoRoute                           // no route matches the destination
	DropBlackhole                         // the matching route is a blackhole
	DropNoSuchAddress                     // local route, but no interface has the address
	DropToRouter                          // addressed to the subnet router itself
	DropIGWNoPublicIP                     // leaving through the IGW without a public address
	DropInternetNoRoute                   // internet destination that no host or gateway owns
	DropNATNoMapping                      // inbound to a NAT gateway without a matching connection
	DropNATExhausted                      // NAT gateway ran out of ports
	DropNATUnsupported                    // NAT gateway cannot translate it (fragment, protocol, IPv6: no NAT64)
	DropEndpointUnavailable               // GWLB endpoint with nothing behind it
	DropEndpointNotAccepted               // GWLB endpoint still waiting for acceptance (spec §6.1)
	DropEndpointTooBig                    // inner packet over 8500 bytes at an endpoint, no ICMP (spec §5)
	DropGWLB                              // dropped by a GWLB node (its own counters say why)
	DropRoutingLoop                       // the packet went round the lab too many times
	DropPortWrite                         // writing to the destination port failed
	DropIPv6LinkLocal                     // not an error: IPv6 link-local or multicast traffic (MLD, RS, NA) the VPC ignores
	DropEndpointLoop                      // the same packet kept entering GWLB endpoints: a route loop through appliances (loop.go)
	DropARPNoOwner                        // ARP request for an address nobody owns: not answered, so the sender's packets to it go nowhere
	DropNDPNoOwner                        // IPv6 Neighbor Solicitation for an address nobody owns: not answered, as with ARP
	DropLinkDown                          // to or from a node whose link is set down (impair.go)
	DropLinkLoss                          // lost on the way to a node by its link's loss setting
	DropLinkQueueFull                     // the delay queue of a node's link was full
	DropTGWNoRoute                        // a transit gateway's route table has no route (or the attachment has no table)
	DropTGWBlackhole                      // a transit gateway's matching route is a blackhole
	DropTGWNoAttachmentAZ                 // routed to a transit gateway from an AZ where the VPC's attachment has no subnet (spec §6.5)
	DropPortQueueFull                     // the write queue of the destination's port was full: the node takes frames more slowly than they come (txq.go)
	numReasons
)

var reasonNames = [numReasons]string{
	DropMalformed:           "malformed",
	DropNotIP:               "not_ip",
	DropBroadcast:           "broadcast",
	DropUnknownMAC:          "unknown_mac",
	DropSourceCheck:         "source_check",
	DropDestCheck:           "dest_check",
	DropNoRoute:             "no_route",
	DropBlackhole:           "blackhole",
	DropNoSuchAddress:       "no_such_address",
	DropToRouter:            "to_router",
	DropIGWNoPublicIP:       "igw_no_public_ip",
	DropInternetNoRoute:     "internet_no_route",
	DropNATNoMapping:        "nat_no_mapping",
	DropNATExhausted:        "nat_ports_exhausted",
	DropNATUnsupported:      "nat_unsupported",
	DropEndpointUnavailable: "endpoint_unavailable",
	DropEndpointNotAccepted: "endpoint_not_accepted",
	DropEndpointTooBig:      "endpoint_packet_too_big",
	DropGWLB:                "gwlb",
	DropRoutingLoop:         "routing_loop",
	DropPortWrite:           "port_write_failed",
	DropIPv6LinkLocal:       "ipv6_link_local",
	DropEndpointLoop:        "endpoint_loop",
	DropARPNoOwner:          "arp_no_owner",
	DropNDPNoOwner:          "ndp_no_owner",
	DropLinkDown:            "link_down",
	DropLinkLoss:            "link_loss",
	DropLinkQueueFull:       "link_queue_full",
	DropTGWNoRoute:          "tgw_no_route",
	DropTGWBlackhole:        "tgw_blackhole",
	DropTGWNoAttachmentAZ:   "tgw_no_attachment_in_az",
	DropPortQueueFull:       "port_queue_full",
}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return "unknown"
}
