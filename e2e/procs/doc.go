// Package procs holds the Ginkgo suite for how a lab starts, tracks and
// stops its processes: `down` leaves nothing running after a crash of `up`
// at the worst moment, after node programs that daemonize or lose their
// leader, and from a damaged state file, with and without cgroup v2; node
// programs' exit codes; and what a node program can see of the lab's state
// directory.
//
// Every spec marks the processes of its lab with an environment variable
// (inherited by everything the lab starts) so that it can look for
// leftovers precisely; it never signals anything by that mark.
package procs
