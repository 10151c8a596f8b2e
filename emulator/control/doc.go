// Package control is the emulator's control socket: HTTP with JSON bodies
// over a Unix socket owned by root with mode 0600, one per lab. The CLI reads
// status, counters and flows through it and changes the running lab
// (accepting endpoints, registering targets, injecting faults).
//
// There is deliberately no TCP listener: the socket's file mode is the access
// control, and nothing of the lab is reachable from the network.
package control
