// Package backend is the seam between a lab and the place its nodes live.
//
// A node (instance, appliance, internet host) is reduced to three things: a
// name, the path of its network namespace, and a way to run processes in it.
// Wiring code (lab/wire) only ever needs the namespace path, so it does not
// care whether the node is a bare named network namespace (lab/backend/netns,
// the default: no daemon needed) or a container (a docker backend, later).
//
// The package holds interfaces and plain types only; it imports no netlink,
// no syscalls and no Docker client, so the lab can depend on it without
// choosing an implementation. The trade-off: what "run a process" means
// differs between backends (a forked child in a namespace vs. docker exec), so
// the Process handle is deliberately small: an identity that survives the
// starting process (PID plus kernel start time, for a state file) and a Wait
// that only the starter can use.
package backend
