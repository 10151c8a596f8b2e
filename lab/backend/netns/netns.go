package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	cnins "github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/gwlb-lab/gwlb-lab/lab/backend"
)

// DefaultRunDir is where `ip netns` keeps named namespaces; using it is what
// makes `ip netns exec` work on lab nodes.
const DefaultRunDir = "/run/netns"

// maxNameLen keeps names usable as file names and in `ip netns` output;
// iproute2 itself has no tighter limit.
const maxNameLen = 128

// maxStackedMounts bounds Remove's unmount loop; more than one mount on a
// namespace file only happens when two creators raced.
const maxStackedMounts = 8

// Backend creates nodes as named network namespaces under a run directory.
type Backend struct {
	runDir string

	// mu serialises making runDir a shared mount point: two concurrent
	// "bind it onto itself" steps would stack two mounts.
	mu sync.Mutex
}

var _ backend.Backend = (*Backend)(nil)

// New returns a Backend that keeps namespaces in runDir ("" means
// DefaultRunDir).
func New(runDir string) *Backend {
	if runDir == "" {
		runDir = DefaultRunDir
	}
	return &Backend{runDir: runDir}
}

// RunDir is the directory holding the namespace bind mounts.
func (b *Backend) RunDir() string { return b.runDir }

// Node is a named network namespace.
type Node struct {
	name string
	path string
}

var _ backend.Node = (*Node)(nil)

// Name is the namespace's name (as in `ip netns list`).
func (n *Node) Name() string { return n.name }

// NetNSPath is the bind mount of the namespace, e.g. /run/netns/<name>.
func (n *Node) NetNSPath() string { return n.path }

// Start runs a program in the namespace; see the package function Start.
func (n *Node) Start(ctx context.Context, spec backend.ProcSpec) (backend.Process, error) {
	return Start(ctx, n, spec)
}

// Stop stops every process in the namespace (see Namespaces.Stop); the
// namespace and its interfaces stay.
func (n *Node) Stop(ctx context.Context, grace time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	nss, err := Identify([]string{n.path})
	if err != nil {
		return err
	}
	return nss.Stop(grace)
}

// Pause stops every process in the namespace with SIGSTOP; the namespace
// and its interfaces stay. (A lab with a cgroup freezes a node's program
// through the cgroup freezer instead, which catches a tree atomically.)
func (n *Node) Pause(ctx context.Context) error { return n.signal(ctx, unix.SIGSTOP) }

// Unpause resumes every process in the namespace with SIGCONT.
func (n *Node) Unpause(ctx context.Context) error { return n.signal(ctx, unix.SIGCONT) }

func (n *Node) signal(ctx context.Context, sig unix.Signal) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	nss, err := Identify([]string{n.path})
	if err != nil {
		return err
	}
	return nss.Signal(sig)
}

// Alive reports whether the namespace is still mounted.
func (n *Node) Alive(ctx context.Context) (bool, string, error) {
	if err := cnins.IsNSorErr(n.path); err != nil {
		if errors.As(err, new(cnins.NSPathNotExistErr)) {
			return false, "gone", nil
		}
		return false, "", err
	}
	return true, "namespace", nil
}

// Exec runs argv in the namespace in the foreground; see the package
// function Exec.
func (n *Node) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	return Exec(ctx, n, argv, stdin, stdout, stderr)
}

// validName rejects names that are not a single, plain path element: the
// name becomes a file under runDir, and Remove must never reach outside it.
func validName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > maxNameLen {
		return fmt.Errorf("invalid namespace name %q", name)
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("invalid namespace name %q: only letters, digits, '-', '_' and '.' are allowed", name)
		}
	}
	return nil
}

// Create makes a named network namespace with loopback up. If the name is
// taken (even by a stale, unmounted file) the error wraps backend.ErrExists.
// A spec for a container is refused: this backend makes bare namespaces.
func (b *Backend) Create(ctx context.Context, spec backend.NodeSpec) (backend.Node, error) {
	name := spec.Name
	if spec.Container != nil {
		return nil, fmt.Errorf("create namespace %q: the netns backend does not run containers", name)
	}
	path, err := b.reserve(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := newNamespaceAt(path); err != nil {
		// The mount may or may not have happened; undo both.
		_ = unix.Unmount(path, unix.MNT_DETACH)
		_ = os.Remove(path)
		return nil, fmt.Errorf("create namespace %q: %w", name, err)
	}
	return &Node{name: name, path: path}, nil
}

// reserve creates the empty file a namespace is mounted on.
func (b *Backend) reserve(ctx context.Context, name string) (string, error) {
	if err := validName(name); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("create namespace %q: %w", name, err)
	}
	if err := b.prepareRunDir(); err != nil {
		return "", err
	}
	path := filepath.Join(b.runDir, name)
	// O_EXCL is the existence check and the reservation in one step, as in
	// iproute2: a concurrent Create of the same name gets EEXIST.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.EEXIST) {
		return "", fmt.Errorf("create namespace %q: %w", name, backend.ErrExists)
	}
	if err != nil {
		return "", fmt.Errorf("create namespace file %q: %w", path, err)
	}
	unix.Close(fd)
	return path, nil
}

// Attach names an existing network namespace (nsPath, e.g. a container's
// /proc/<pid>/ns/net) as name, as `ip netns attach` does: from then on it
// is a node like any other here, and the mount keeps the namespace alive
// even while nothing runs in it. Remove undoes it.
func (b *Backend) Attach(ctx context.Context, name, nsPath string) (backend.Node, error) {
	path, err := b.reserve(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := unix.Mount(nsPath, path, "none", unix.MS_BIND, ""); err != nil {
		_ = os.Remove(path)
		return nil, fmt.Errorf("attach namespace %q as %q: %w", nsPath, name, err)
	}
	return &Node{name: name, path: path}, nil
}

// newNamespaceAt creates a network namespace on a fresh OS thread, pins it
// by bind-mounting it on path and brings its loopback up. The thread is never
// unlocked, so the Go runtime destroys it when the goroutine ends instead of
// reusing a thread that sits in the wrong namespace (DESIGN §4.6).
func newNamespaceAt(path string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread dies with this goroutine.
		errc <- func() error {
			if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
				return fmt.Errorf("unshare network namespace: %w", err)
			}
			self := fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid())
			if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind mount %q on %q: %w", self, path, err)
			}
			// A handle made on this thread opens its sockets in the
			// new namespace.
			h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
			if err != nil {
				return fmt.Errorf("netlink handle in new namespace: %w", err)
			}
			defer h.Close()
			lo, err := h.LinkByName("lo")
			if err != nil {
				return fmt.Errorf("find loopback: %w", err)
			}
			if err := h.LinkSetUp(lo); err != nil {
				return fmt.Errorf("bring loopback up: %w", err)
			}
			return nil
		}()
	}()
	return <-errc
}

// prepareRunDir makes runDir exist and be a shared mount point, as
// `ip netns add` does: then a namespace unmounted here is also unmounted in
// mount namespaces cloned from this one (e.g. by `ip netns exec`), and the
// kernel can free it sooner.
func (b *Backend) prepareRunDir() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := os.MkdirAll(b.runDir, 0o755); err != nil {
		return fmt.Errorf("create %q: %w", b.runDir, err)
	}
	err := unix.Mount("", b.runDir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("make %q a shared mount: %w", b.runDir, err)
	}
	// EINVAL: not a mount point yet. Bind it onto itself, then retry.
	if err := unix.Mount(b.runDir, b.runDir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %q onto itself: %w", b.runDir, err)
	}
	if err := unix.Mount("", b.runDir, "none", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %q a shared mount: %w", b.runDir, err)
	}
	return nil
}

// Open returns the node for an existing namespace. A missing name wraps
// backend.ErrNotFound; a file that is not a namespace (left by a crash
// between create and mount) is an error naming it, which Remove clears.
func (b *Backend) Open(ctx context.Context, name string) (backend.Node, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open namespace %q: %w", name, err)
	}
	path := filepath.Join(b.runDir, name)
	switch err := cnins.IsNSorErr(path); {
	case err == nil:
		return &Node{name: name, path: path}, nil
	case errors.As(err, new(cnins.NSPathNotExistErr)):
		return nil, fmt.Errorf("open namespace %q: %w", name, backend.ErrNotFound)
	default:
		return nil, fmt.Errorf("open namespace %q: %w", name, err)
	}
}

// Remove unmounts and unlinks the namespace's bind mount. A missing name is
// not an error. It does not kill processes: any still running in the
// namespace keep it alive (unnamed) until they exit; see the package doc.
func (b *Backend) Remove(ctx context.Context, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remove namespace %q: %w", name, err)
	}
	path := filepath.Join(b.runDir, name)
	// Loop because a racing create may have stacked two mounts; EINVAL
	// means "not (or no longer) a mount point", ENOENT "already gone".
	// MNT_DETACH, as `ip netns del`: a busy mount (someone has the file
	// open) is detached now and released when the last user closes it.
	for i := 0; i < maxStackedMounts; i++ {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			return fmt.Errorf("unmount namespace %q: %w", path, err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove namespace file %q: %w", path, err)
	}
	return nil
}

// List returns the namespaces under runDir whose name starts with prefix,
// sorted. Stale files (not mounted) are listed too, so a sweep removes them.
func (b *Backend) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	entries, err := os.ReadDir(b.runDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list namespaces in %q: %w", b.runDir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
			names = append(names, e.Name())
		}
	}
	return names, nil
}
