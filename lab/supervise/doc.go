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
//   - gives the program a private mount namespace with tmpfs mounts of its
//     own on /run, /tmp and /var/run (unless that is a symlink into /run), so
//     two nodes running one program do not share sockets or pid files; the
//     lab state root (/run/gwlb-lab) is thereby empty but for what the
//     node's own program opens (the reference appliance's logs directory)
//     and the node's working and log directories, bound back: a node
//     program cannot reach any lab's control socket or state file, its own
//     lab's included; the topology's files are placed in that view;
//   - starts the program as the leader of its own process group, in its
//     working directory, with the node's GWLB_* identity in its
//     environment, forwards SIGTERM, SIGINT and SIGHUP to that group, waits
//     for the leader and writes its exit status next to the node's log,
//     where `status` reads it;
//   - starts it again under its restart policy (on-failure, always) after
//     a back-off that doubles from 100 ms to 10 s, from the same mount
//     namespace (one OS thread holds it for the supervisor's life), and
//     records the restart count in the node's life file. A stop asked for
//     by a signal is never restarted.
//
// Trade-offs: the supervisor exits with its program's leader (unless it
// restarts it), so a program that daemonizes (forks and exits 0) shows as
// exited with code 0 while its daemon runs on (and restart: always would
// start a second one); `down` still finds the daemon by network namespace and
// cgroup. Mount propagation from the host is kept (slave), so unmounts made
// by `down` reach the private namespace.
package supervise
