// Package faults is the e2e suite of faults and runtime edits on the
// default lab: a node's link impaired by the emulator (down, loss, delay),
// a target's health checks forced to fail, route table edits while
// traffic flows, all through the gwlb-lab binary, and a node added and
// removed at run time through the emulator's control socket.
package faults
