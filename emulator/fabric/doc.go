// Package fabric is the emulator's data plane: it reads Ethernet frames from
// every node's port and forwards them the way a VPC does — subnet routers that
// answer ARP and consult route tables, internet gateways with 1:1 public
// address translation, NAT gateways, and the hand-off to GWLB endpoints.
//
// Each port has a reader goroutine that reads a batch of frames into buffers
// with headroom and carries each frame through the lab synchronously, hop by
// hop, until it is bound for a destination port or dropped. Nothing is
// queued between hops. At the end of the batch each destination's frames go,
// in one push, into that port's bounded write queue (txq.go), which the
// port's writer goroutine alone empties into the port: a slow destination
// delays only its own frames, and a full queue drops and counts
// (port_queue_full). A flow's frames keep their order: one reader carries
// them, and every queue is FIFO. A link with a delay set (impair.go) holds
// its frames, copied once, in its own bounded queue, which a timer empties
// into the write queue.
//
// The configuration can change while frames flow: a route edit (routes.go)
// compiles a new one against the state that outlives it (flow, NAT and
// acceptance tables) and swaps it in atomically.
//
// Every drop is counted under a named reason instead of being logged; the
// counters are what `gwlb-lab status` shows.
package fabric
