// Package supervise runs one node program for the lab and outlives it just
// long enough to say how it ended.
//
// `gwlb-lab up` does not start a node's program directly: it starts the
// hidden `gwlb-lab supervise` in the node (its network namespace and cgroup),
// which
//   - waits for the start handshake: `up` writes one byte on an inherited
//     pipe only once the state file records the supervisor's PID, and the
//     supervisor exits without starting anything if the pipe closes first
//     (`up` was killed in between), so no unrecorded program ever runs;
//   - gives the program a private mount namespace in which the lab state
//     root (/run/gwlb-lab) is an empty tmpfs, with only the files or
//     directories that node's own program opens bind-mounted back (the
//     reference appliance's logs directory, where its configuration,
//     counters and flow log live): a node program cannot reach any lab's
//     control socket or state file, its own lab's included;
//   - starts the program as the leader of its own process group, forwards
//     SIGTERM, SIGINT and SIGHUP to that group, waits for the leader and
//     writes its exit status next to the node's log, where `status` reads it.
//
// Trade-offs: the supervisor exits with its program's leader, so a program
// that daemonizes (forks and exits 0) shows as exited with code 0 while its
// daemon runs on; `down` still finds the daemon by network namespace and
// cgroup. Mount propagation from the host is kept (slave), so unmounts made
// by `down` reach the private namespace.
package supervise
