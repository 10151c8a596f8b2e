// Package backend is the seam between a lab and the place its nodes live.
//
// A node (instance, appliance, internet host) is reduced to a few things: it
// is made from a NodeSpec, it has a name and the path of its network
// namespace, programs are started in it, commands run in it (exec), what runs
// in it can be stopped or paused while it keeps its links, and it can say
// whether it is alive. Wiring code (lab/wire) only ever needs the namespace
// path, so it does not care whether the node is a bare named network
// namespace (lab/backend/netns, the default: no daemon needed) or a
// container (lab/backend/docker). The lab picks the backend per node and records it in
// its state file, so one lab mixes both.
//
// The package holds interfaces and plain types only; it imports no netlink,
// no syscalls and no Docker client, so the lab can depend on it without
// choosing an implementation. The trade-off: what "run a process" means
// differs between backends (a forked child in a namespace vs. docker exec), so
// the Process handle is deliberately small: an identity that survives the
// starting process (PID plus kernel start time, for a state file) and a Wait
// that only the starter can use.
package backend
