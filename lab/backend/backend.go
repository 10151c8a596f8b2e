package backend

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// ErrExists is returned by Backend.Create when a node of that name already
// exists. The lab acts on it: `up` after a crash either adopts or sweeps.
var ErrExists = errors.New("node already exists")

// ErrNotFound is returned by Backend.Open when no node of that name exists.
var ErrNotFound = errors.New("node not found")

// Backend creates and removes nodes. Names are used verbatim: the caller
// (package lab) puts the lab prefix `gwlb-<lab>-` in front, so a sweep by
// prefix finds exactly one lab's nodes.
type Backend interface {
	// Create makes a new, empty node with loopback up, as spec says. It
	// returns an error wrapping ErrExists if the name is taken.
	Create(ctx context.Context, spec NodeSpec) (Node, error)
	// Open returns an existing node (for `exec` or `down` in a later
	// process). It returns an error wrapping ErrNotFound if there is none.
	Open(ctx context.Context, name string) (Node, error)
	// Remove deletes the node. Removing a missing node is not an error, so
	// `down` can be replayed after a partial failure.
	Remove(ctx context.Context, name string) error
	// List returns the names of the nodes whose name starts with prefix,
	// sorted; the crash sweep uses it with the lab prefix.
	List(ctx context.Context, prefix string) ([]string, error)
}

// Node is one place where lab programs run.
type Node interface {
	// Name is the name the node was created with.
	Name() string
	// NetNSPath is a path that opens the node's network namespace (for
	// setns(2) or netlink.NewHandleAt); all wiring is done through it.
	NetNSPath() string
	// Start runs a program in the node and returns once it has started.
	// A container node starts its own container: made from the settings
	// given to Create, or, when it exists already (stopped), started again
	// as it was, spec aside.
	Start(ctx context.Context, spec ProcSpec) (Process, error)
	// Stop stops what runs in the node and keeps the node, its namespace
	// and its links: every process in a namespace node, the node's own
	// container in a container node. grace is how long a program has
	// between SIGTERM and SIGKILL.
	Stop(ctx context.Context, grace time.Duration) error
	// Pause freezes what runs in the node, as Stop chooses it, and keeps
	// the node and its links; frames sent to it wait in its TAP until they
	// overflow. Pausing a paused node is not an error; pausing a node whose
	// container does not run is.
	Pause(ctx context.Context) error
	// Unpause thaws what Pause froze. Unpausing a node that is not paused
	// is not an error.
	Unpause(ctx context.Context) error
	// Alive reports whether the node itself still exists and what state it
	// is in, in a word or two ("namespace", "running", "exited (1)"...).
	Alive(ctx context.Context) (bool, string, error)
	// Exec runs argv in the node in the foreground, attached to the given
	// streams, and returns its exit code. A command that runs and fails is
	// not an error: the error is for "could not run it" or "ctx ended".
	Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
}

// NodeSpec is what a node is made from.
type NodeSpec struct {
	// Name is the node's name, used verbatim (gwlb-<lab>-<node>).
	Name string
	// Lab is the lab the node belongs to; backends that can label what
	// they make (Docker) label it with this, so a crash sweep finds it.
	Lab string
	// Container describes a container node; nil for backends that make
	// bare namespaces.
	Container *Container
}

// Container is a container node's settings (as docker-compose names them).
type Container struct {
	Image      string
	Entrypoint []string
	Command    []string
	// Env is KEY=value.
	Env        []string
	CapAdd     []string
	Devices    []string
	Volumes    []string
	WorkingDir string
	User       string
}

// ProcSpec describes a program to start in a node.
type ProcSpec struct {
	// Argv is the program and its arguments; Argv[0] is looked up in PATH.
	Argv []string
	// Env is the environment as KEY=value; nil inherits the caller's.
	Env []string
	// Dir is the working directory; "" keeps the caller's.
	Dir string
	// LogPath receives stdout and stderr, appended (created 0644 if
	// missing); "" discards them.
	LogPath string
	// Detach makes the program outlive the caller: its own session (so no
	// terminal hang-up reaches it), stdin from /dev/null, and no tie to
	// the Start context. Without Detach the program is in its own process
	// group and is killed (the whole group) when the Start context ends.
	Detach bool
	// Binds are SOURCE:TARGET mounts a container node adds to its own
	// (paths of the host the program opens); namespace nodes share the
	// host's files and ignore them.
	Binds []string
	// ExtraFiles are passed to the program as descriptors 3, 4, ...
	ExtraFiles []*os.File
	// Cgroup, if set, is an open cgroup v2 directory the program is born
	// into (clone3 CLONE_INTO_CGROUP): it is never outside it, not even
	// between fork and exec.
	Cgroup *os.File
}

// Process is a started program. PID and StartTime together name it across
// PID reuse; they are what a state file records so that a later `down`, in
// another process, stops the right thing.
type Process interface {
	PID() int
	// StartTime is the kernel's start time of the process in clock ticks
	// since boot (field 22 of /proc/<pid>/stat).
	StartTime() uint64
	// Wait waits for the program to exit and releases its resources. Only
	// the process that called Start can Wait; a detached program whose
	// starter exits without waiting is reaped by init instead.
	Wait() error
}
