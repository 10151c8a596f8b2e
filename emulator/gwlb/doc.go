// Package gwlb is the Gateway Load Balancer's data plane: one Node per
// enabled AZ, each with its own flow tables, choosing a target for every new
// flow, encapsulating towards it with AWS's GENEVE options, and validating
// what the target sends back (spec §2–§4).
//
// The package decides; the fabric moves bytes. Forward and Return look at a
// packet and say what to do with it (which target, which outer headers,
// which endpoint it returns through); the fabric writes the headers in place
// and routes the result. That keeps this package free of ports and routing,
// and lets its tests drive it with plain byte slices and a manual clock.
//
// Two more decisions belong to a node. What reaches its namespace: only the
// answers to its own health checks (Sent, Admit; stray.go), so its kernel
// never answers what an appliance reflects. And where IPv4 fragments go:
// every fragment of a datagram follows the flow of its first (frag.go).
//
// Flow tables are kept per endpoint on each node, so two consumer VPCs with
// the same addresses behind different endpoints never share a flow; AWS does
// not document its key, and this is the choice that cannot mix tenants.
// One flow.Limit caps them together (max_flows_per_node): the memory is the
// node's, whichever endpoint a flow came through. Listings walk the tables
// and write each flow's JSON straight from the table's copy (FlowRef), so
// listing costs no memory per flow.
package gwlb
