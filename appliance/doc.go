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
// needs a UDP source port the appliance has no socket bound to.
//
// Options make it misbehave on purpose for negative tests: altered cookie,
// stripped option, non-zero VNI, replies from another port, TCP reflected
// back to its sender (as Snort's gwlb DAQ does), slow health answers.
//
// The flow log is bounded twice: on disk by RotatingFile (the log and one
// rotated generation, in /run, which is RAM) and in memory by two
// generations of the flows it has logged. Both trade completeness for a
// lab that can run for days under load: old records go, recent ones stay.
package appliance
