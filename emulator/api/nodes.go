package api

import "net/url"

// Nodes added at run time: an ENI in a VPC subnet, wired to the emulator
// through a TAP that already exists in a network namespace that already
// exists (the lab makes both first).

// PathNodes lists the nodes added at run time (GET: []Node) and adds one
// (POST a Node: the Node as added, defaults filled in).
const PathNodes = "/v1/nodes"

// NodePath is the path that removes a node added at run time (DELETE:
// NodeRemoved).
func NodePath(name string) string { return PathNodes + "/" + url.PathEscape(name) }

// Node is a node added at run time.
type Node struct {
	Name string `json:"name"`
	// VPC may be left out when only one VPC has a subnet named Subnet.
	VPC    string `json:"vpc,omitempty"`
	Subnet string `json:"subnet"`
	// IP is an unused, unreserved address of the subnet; IPv6 an address
	// of the subnet's IPv6 CIDR, if it has one and the node wants one.
	IP   string `json:"ip"`
	IPv6 string `json:"ipv6,omitempty"`
	// MAC is the MAC of the node's interface, unique in the lab.
	MAC string `json:"mac"`
	// NetNS is the path of the node's network namespace (such as
	// /run/netns/gwlb-lab-x-fw-3), Interface the TAP inside it; empty
	// means the name the lab's other nodes use (eth0).
	NetNS     string `json:"netns"`
	Interface string `json:"interface,omitempty"`
	// MTU is read from the TAP when left out.
	MTU int `json:"mtu,omitempty"`
	// SourceDestCheck defaults to true, as for an instance (spec §6.6 #13).
	SourceDestCheck *bool `json:"source_dest_check,omitempty"`
	// UDPCoalesce has the node's port write runs of one flow's UDP
	// datagrams as one USO frame: only for a node that reads them through
	// UDP sockets (config.ENI.UDPCoalesce).
	UDPCoalesce bool `json:"udp_coalesce,omitempty"`
}

// NodeRemoved answers the removal of a node.
type NodeRemoved struct {
	Name string `json:"name"`
}
