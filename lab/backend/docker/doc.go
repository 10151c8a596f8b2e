// Package docker is the lab backend for container nodes: a node whose
// topology has a container section runs as a Docker container, with Docker's
// own networking off (network mode none), and gets its eth0 from the lab
// exactly as a namespace node does.
//
// How a link survives a container restart: every node is two containers.
//
//   - The holder, <name>.hold, runs the gwlb-lab image's hidden `gwlb-lab
//     hold` command, which only waits for a signal. It owns the network
//     namespace, which is also mounted at /run/netns/<name> (netns.Attach),
//     so everything that wires or reads a node by its namespace path (the
//     TAP, the emulator, the readiness probes, `down`'s process scan) is the
//     same code as for a namespace node.
//   - The node's own container, <name>, runs the user's image in the
//     holder's namespace (network mode container:<holder>). `docker restart`
//     or a crash of it gives it the holder's namespace again, with eth0 and
//     its routes, so it carries traffic again at once.
//
// The alternative, one container re-wired on Docker's restart event, needs
// a watcher that lives as long as the lab and loses the link (and every
// flow) for the time the watcher takes; a holder costs one sleeping process.
//
// Every container is labelled with its lab (LabelLab) at creation, in the
// same API call that makes it, so a sweep by label finds all of a lab's
// containers whatever point `up` crashed at, and never another lab's: the
// label is the exact lab name, where a name prefix "gwlb-a-" would also
// match lab "a-b"'s.
package docker
