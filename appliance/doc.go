// Package appliance is the reference GWLB appliance: it receives GENEVE on
// UDP 6081, runs the inner packet through a handler chain (pass everything,
// or a stateful firewall), logs the flows it sees, and returns what passes
// with the GENEVE header echoed byte for byte, from the GWLB's own outer
// source port, back to the GWLB node that sent it (spec §2.4). A health
// responder answers the target group's TCP or HTTP health checks.
//
// It receives through an ordinary UDP socket (so the kernel does not answer
// GENEVE with ICMP port-unreachable) and sends through a raw IPv4 socket,
// because echoing the GWLB's source port, as gwlbtun and AWS's samples do,
// needs a UDP source port the appliance has no socket bound to (GSO, which
// only a UDP socket does, binds one per port in use).
//
// The echo path works in batches and allocates nothing per packet
// (batch.go, gso.go): recvmmsg reads up to 32 messages per system call,
// each with the address it was sent to (IP_PKTINFO), and with UDP GRO a
// message can be a train of one sender's datagrams, split again at the
// segment size the kernel reports. Returns are queued as their headers
// plus the inner packet left in the receive buffer and sent with sendmmsg
// on the raw socket after each read; the returns of a train (one GWLB
// node, one local address and port, one size but a shorter last) go as one
// sendmsg with UDP_SEGMENT from a pooled UDP socket bound to the GWLB's
// port, which the kernel cuts into the same datagrams. Counters are
// atomics, so tunnel mode's readers add to them without a lock.
//
// It answers only the GWLB nodes it is told about (Config.GWLBNodes): an
// appliance that returns GENEVE to any sender would bounce one crafted
// packet off another such appliance for ever, since neither touches the
// inner packet's TTL. GENEVE control messages (the O bit) are counted and
// never returned (RFC 8926). Its counters can be written to a file for
// tests and users to read.
//
// In tunnel mode (tunnel.go) it works as AWS's tunnel handler, gwlbtun:
// inner packets go to the node's kernel through a TUN device per GWLB
// endpoint, a hook wires the kernel, and what the kernel routes back into
// the endpoint's devices is returned with its flow's GENEVE header.
//
// Options make it misbehave on purpose for negative tests: altered cookie,
// stripped option, non-zero VNI, replies from another port, the O bit set,
// TCP reflected back to its sender (as Snort's gwlb DAQ does), slow health
// answers.
//
// The flow log is bounded twice: on disk by RotatingFile (the log and one
// rotated generation, in /run, which is RAM) and in memory by two
// generations of the flows it has logged. Both trade completeness for a
// lab that can run for days under load: old records go, recent ones stay.
package appliance
