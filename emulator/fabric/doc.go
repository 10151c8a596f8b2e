// Package fabric is the emulator's data plane: it reads Ethernet frames from
// every node's port and forwards them the way a VPC does — subnet routers that
// answer ARP and consult route tables, internet gateways with 1:1 public
// address translation, NAT gateways, and the hand-off to GWLB endpoints.
//
// Each port has one goroutine that reads a batch of frames into buffers with
// headroom and carries each frame through the lab synchronously, hop by hop,
// until it is written to a destination port or dropped. Nothing is queued
// between hops, so there is no per-packet allocation and no reordering within
// a flow; the price is that one port's goroutine does all the work for the
// frames it received (a slow destination slows its sources). The one
// exception is a link with a delay set (impair.go): its frames wait, copied
// once, in the link's bounded queue, which a timer empties.
//
// The configuration can change while frames flow: a route edit (routes.go)
// compiles a new one against the state that outlives it (flow, NAT and
// acceptance tables) and swaps it in atomically.
//
// Every drop is counted under a named reason instead of being logged; the
// counters are what `gwlb-lab status` shows.
package fabric
