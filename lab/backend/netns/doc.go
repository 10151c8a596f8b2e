// Package netns is the default lab backend: every node is a named network
// namespace, bind-mounted at /run/netns/<name> exactly as `ip netns add` does,
// so `ip netns exec <name> …` and `ip -n <name> …` work from any shell while a
// lab is up.
//
// What it owns:
//   - creating a namespace (unshare on a fresh, locked OS thread that is
//     thrown away afterwards, then a bind mount of that thread's namespace;
//     no shelling out), bringing its loopback up, removing and listing them;
//   - naming a namespace made elsewhere (Attach, as `ip netns attach`): the
//     docker backend mounts its holder containers' namespaces here, so that
//     container nodes are reached by the same paths;
//   - starting programs inside a namespace (Start, Exec) and stopping them by
//     PID and start time (Stop), so a later `down` in another process can stop
//     them safely even if the PID has been reused.
//   - finding processes without their PID: every process whose network
//     namespace is one of a set (Identify, Namespaces.Stop), or that holds a
//     given file open (Holding), and stopping them through pidfds
//     (StopMatching), for what a PID record cannot cover.
//
// Trade-offs and limits, on purpose:
//   - Removing a namespace only unmounts and unlinks its /run/netns entry. A
//     namespace lives as long as something holds it, so programs still running
//     in it keep it (and its interfaces) alive. Their owner stops them by PID
//     (Stop); Remove never kills, because it cannot know which processes are
//     the lab's.
//   - Programs are started by forking from an OS thread that has joined the
//     namespace: the child inherits the network namespace only. Unlike
//     `ip netns exec`, there is no private mount namespace, so /sys/class/net
//     and /etc/netns/<name> bind mounts are the host's view; /proc/net and
//     /proc/sys/net are per namespace already. Programs that need a netns-local
//     sysfs can be started as `ip netns exec <name> …` instead.
//   - Stop signals the process group of the program (the program is its group
//     leader), so children that stay in the group die with it; a child that
//     leaves the group (setsid, setpgid) escapes it, as with any process-group
//     based supervision, and is found by the namespace scan instead.
//   - The scans read /proc/<pid>/ns/net, the main thread's namespace: a
//     process with only some threads in a namespace (the emulator's probes)
//     is not found by it.
//   - Setting up /run/netns as a shared mount point (so that unmounts
//     propagate into other mount namespaces) is serialised inside one Backend
//     but, as with `ip netns add`, not across processes.
package netns
