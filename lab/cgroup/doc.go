// Package cgroup keeps a lab's processes in one cgroup v2 directory, so that
// `down` can stop every one of them, whatever they did after they started:
// fork, daemonize with setsid, or outlive the process that was recorded.
//
// What it owns:
//   - finding the cgroup2 mount from /proc/self/mountinfo (never assumed: it
//     is /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified in a hybrid
//     layout, and absent or read-only in many containers);
//   - creating a lab's directory and one child per process it starts, handing
//     out a directory descriptor for clone3's CLONE_INTO_CGROUP (through
//     SysProcAttr.UseCgroupFD), so a child is born inside and there is no
//     moment at which it runs outside;
//   - killing everything in a directory tree (cgroup.kill, else SIGKILL to
//     every listed PID until none is left) and removing it.
//
// Trade-offs, on purpose:
//   - Only the cgroup2 hierarchy is used, and no controller is enabled: the
//     cgroup is a container for membership, not a resource limit. That works
//     on hybrid hosts, where every controller belongs to v1.
//   - A process running as root can move itself out of the cgroup. Node
//     programs are trusted code; the network namespace scan in `down` is the
//     second net for what leaves.
//   - Where cgroup2 is missing or not writable, callers fall back to other
//     means (a start handshake and the namespace scan); New reports that case
//     with ErrUnavailable.
package cgroup
