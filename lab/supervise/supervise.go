package supervise

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNotRecorded is returned by AwaitRecorded when the starter went away
// before recording this process: the process must exit without acting.
var ErrNotRecorded = errors.New("the starting gwlb-lab ended before recording this process")

// AwaitRecorded blocks until the process that started this one writes the
// go-ahead byte on descriptor fd, then closes fd so that nothing started
// later inherits it. End of file instead of the byte is ErrNotRecorded.
func AwaitRecorded(fd int) error {
	f := os.NewFile(uintptr(fd), "handshake")
	if f == nil {
		return fmt.Errorf("handshake descriptor %d is not open", fd)
	}
	defer f.Close()
	var b [1]byte
	n, err := f.Read(b[:])
	if n == 1 {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return ErrNotRecorded
	}
	return fmt.Errorf("read handshake descriptor %d: %w", fd, err)
}

// Exit is how a node program ended, as the exit file records it.
type Exit struct {
	// Code is the exit status, or 128+N for a program killed by signal N
	// (the shell's convention).
	Code int `json:"code"`
	// Signal names the signal that killed it, if one did.
	Signal string    `json:"signal,omitempty"`
	At     time.Time `json:"at"`
}

// ReadExit reads an exit file; a missing file (the program has not exited)
// is (nil, nil).
func ReadExit(path string) (*Exit, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var e Exit
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("exit file %q: %w", path, err)
	}
	return &e, nil
}

// Options say what to run and how.
type Options struct {
	// Argv is the node program.
	Argv []string
	// ExitFile receives the program's Exit as JSON when it ends.
	ExitFile string
	// Hide is a directory the program must not see (the lab state root);
	// "" hides nothing.
	Hide string
	// Expose are paths under Hide that the program needs (its appliance
	// configuration, its flow log): they are bind-mounted back, each on
	// its own. A missing file is created empty first.
	Expose []string
	// Log receives the supervisor's own notes (the program's output goes
	// to the inherited stdout and stderr).
	Log io.Writer
}

// Run starts the program, waits for it and records its exit. It returns the
// program's exit code; the error is for "could not run it at all".
func Run(ctx context.Context, o Options) (int, error) {
	if len(o.Argv) == 0 {
		return 0, errors.New("supervise: no program given")
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGTERM, unix.SIGINT, unix.SIGHUP)
	defer signal.Stop(sigs)

	cmd, err := start(o)
	if err != nil {
		code := 127
		if !errors.Is(err, exec.ErrNotFound) && !errors.Is(err, os.ErrNotExist) {
			code = 126
		}
		_ = writeExit(o.ExitFile, Exit{Code: code, At: time.Now().UTC()})
		return code, err
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			// The program's whole group, so a shell wrapper passes it on.
			_ = unix.Kill(-pgid, s.(syscall.Signal))
		case <-done:
			e := exitOf(cmd.ProcessState)
			if err := writeExit(o.ExitFile, e); err != nil {
				fmt.Fprintf(o.Log, "gwlb-lab supervise: %v\n", err)
			}
			return e.Code, nil
		}
	}
}

// start prepares the mount namespace and starts the program from one locked
// OS thread: a mount namespace made by unshare belongs to that thread only,
// and the program, forked from it, inherits it. The thread is never
// unlocked, so the runtime throws it away instead of reusing a thread that
// sees a different file system.
func start(o Options) (*exec.Cmd, error) {
	type result struct {
		cmd *exec.Cmd
		err error
	}
	out := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread ends with this goroutine.
		if o.Hide != "" {
			if err := hide(o.Hide, o.Expose); err != nil {
				// A lab still works without it; say so in the node's log.
				fmt.Fprintf(o.Log, "gwlb-lab supervise: warning: %s stays visible to the program: %v\n", o.Hide, err)
			}
		}
		cmd := exec.Command(o.Argv[0], o.Argv[1:]...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		err := cmd.Start()
		out <- result{cmd, err}
	}()
	r := <-out
	if r.err != nil {
		return nil, fmt.Errorf("start %q: %w", o.Argv[0], r.err)
	}
	return r.cmd, nil
}

// hide gives the calling thread a private mount namespace with an empty
// tmpfs on dir and each exposed path bind-mounted back. On failure after
// the tmpfs is mounted it takes the tmpfs away again, so that the program
// at least finds its files.
func hide(dir string, expose []string) error {
	for _, p := range expose {
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
			return fmt.Errorf("exposed path %q is not under %q", p, dir)
		}
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return fmt.Errorf("create %q: %w", p, err)
			}
			f.Close()
		}
	}
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	// Slave: nothing mounted here leaks to the host, and the host's
	// unmounts (a namespace removed by down) still reach this copy.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make / a slave mount: %w", err)
	}
	// Open every exposed path before the tmpfs covers it, here in the new
	// namespace (a bind mount's source must belong to it); the bind
	// mounts are then made from the descriptors.
	var fds []*os.File
	defer func() {
		for _, f := range fds {
			f.Close()
		}
	}()
	for _, p := range expose {
		fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open %q: %w", p, err)
		}
		fds = append(fds, os.NewFile(uintptr(fd), p))
	}
	if err := unix.Mount("gwlb-lab-hidden", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
		return fmt.Errorf("mount a tmpfs on %q: %w", dir, err)
	}
	for i, p := range expose {
		if err := bindBack(fds[i], p); err != nil {
			_ = unix.Unmount(dir, unix.MNT_DETACH)
			return err
		}
	}
	return nil
}

// bindBack makes a mount point at p inside the tmpfs and binds the file or
// directory f onto it.
func bindBack(f *os.File, p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("make %q: %w", filepath.Dir(p), err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("stat %q: %w", p, err)
	}
	var err error
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.MkdirAll(p, 0o755)
	} else {
		var mp *os.File
		if mp, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			mp.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("make mount point %q: %w", p, err)
	}
	src := "/proc/thread-self/fd/" + strconv.Itoa(int(f.Fd()))
	if err := unix.Mount(src, p, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %q back: %w", p, err)
	}
	return nil
}

func exitOf(ps *os.ProcessState) Exit {
	e := Exit{Code: ps.ExitCode(), At: time.Now().UTC()}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Code = 128 + int(ws.Signal())
		e.Signal = unix.SignalName(ws.Signal())
	}
	return e
}

// writeExit replaces the exit file atomically, so status never reads half.
func writeExit(path string, e Exit) error {
	if path == "" {
		return nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write exit file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write exit file: %w", err)
	}
	return nil
}
