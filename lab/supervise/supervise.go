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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gwlb-lab/gwlb-lab/internal/jsonfile"
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
	// Private are directories that get an empty tmpfs of their own in the
	// program's mount namespace (/run, /tmp; /var/run where it is not a
	// symlink into /run), so that two nodes running the same program do
	// not share its sockets and pid files. A tmpfs on a parent of Hide
	// hides it too; the exposed paths are bound back on top.
	Private []string
	// Env is added to the program's environment (KEY=value).
	Env []string
	// Dir is the program's working directory; "" keeps the supervisor's.
	Dir string
	// Files are placed before the program first starts, as "DEST=SOURCE":
	// a relative DEST is under Dir; a DEST under a private directory or
	// Dir is a copy; any other DEST must exist and is covered, in the
	// program's mount namespace only, by a copy of SOURCE.
	Files []string
	// Restart says when the program is started again after it exits:
	// RestartNever, RestartOnFailure (a non-zero exit or a signal) or
	// RestartAlways. A stop asked for by a signal to the supervisor is
	// never restarted.
	Restart string
	// Backoff paces the restarts; its zero value is DefaultBackoff.
	Backoff Backoff
	// LifeFile receives a Life as JSON at every start of the program, so
	// that status shows the restart count; "" writes none.
	LifeFile string
	// Log receives the supervisor's own notes (the program's output goes
	// to the inherited stdout and stderr).
	Log io.Writer
}

// Restart policies.
const (
	RestartNever     = "never"
	RestartOnFailure = "on-failure"
	RestartAlways    = "always"
)

// Life is what the life file records: how often the program was started
// again and how its last run ended.
type Life struct {
	Restarts int       `json:"restarts"`
	PID      int       `json:"pid"`
	Started  time.Time `json:"started"`
	LastExit *Exit     `json:"last_exit,omitempty"`
}

// ReadLife reads a life file; a missing file is (nil, nil).
func ReadLife(path string) (*Life, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l Life
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("life file %q: %w", path, err)
	}
	return &l, nil
}

// Backoff is the delay before each restart: Initial, doubled after every
// restart up to Max, and back to Initial once a run lasted Reset.
type Backoff struct {
	Initial, Max, Reset time.Duration
}

// DefaultBackoff starts at 100 ms and caps at 10 s; a run of 10 s clears it.
var DefaultBackoff = Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second, Reset: 10 * time.Second}

// Delay returns the wait before restart number n (1 for the first) when
// the previous run lasted ran; it also returns the restart number to count
// from next time (back to 1 after a long run).
func (b Backoff) Delay(n int, ran time.Duration) (time.Duration, int) {
	if b == (Backoff{}) {
		b = DefaultBackoff
	}
	if ran >= b.Reset {
		n = 1
	}
	d := b.Initial
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max), n + 1
}

// ShouldRestart applies a restart policy to an exit code.
func ShouldRestart(policy string, code int) bool {
	switch policy {
	case RestartAlways:
		return true
	case RestartOnFailure:
		return code != 0
	}
	return false
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

	// The mount namespace is made once, on a thread kept for the
	// supervisor's whole life: every restart forks from it and so sees
	// the same private directories (what the program left in /run stays
	// for its next run, as on a host).
	starter, err := newStarter(o)
	if err != nil {
		return 126, err
	}
	life := Life{}
	next := 1
	for {
		cmd, err := starter.start()
		if err != nil {
			code := 127
			if !errors.Is(err, exec.ErrNotFound) && !errors.Is(err, os.ErrNotExist) {
				code = 126
			}
			_ = writeExit(o.ExitFile, Exit{Code: code, At: time.Now().UTC()})
			return code, err
		}
		life.PID, life.Started = cmd.Process.Pid, time.Now().UTC()
		if err := writeJSONFile(o.LifeFile, life); err != nil {
			fmt.Fprintf(o.Log, "gwlb-lab supervise: %v\n", err)
		}
		e, stopped := wait(cmd, sigs)
		if err := writeExit(o.ExitFile, e); err != nil {
			fmt.Fprintf(o.Log, "gwlb-lab supervise: %v\n", err)
		}
		if stopped || !ShouldRestart(o.Restart, e.Code) {
			return e.Code, nil
		}
		var delay time.Duration
		delay, next = o.Backoff.Delay(next, time.Since(life.Started))
		fmt.Fprintf(o.Log, "gwlb-lab supervise: %s exited with %d; restarting it in %s (restart policy %s)\n",
			o.Argv[0], e.Code, delay, o.Restart)
		select {
		case <-sigs:
			return e.Code, nil
		case <-time.After(delay):
		}
		life.Restarts++
		life.LastExit = &e
	}
}

// wait waits for the program, passing the supervisor's signals to its
// group; stopped reports that a signal asked for the stop.
func wait(cmd *exec.Cmd, sigs <-chan os.Signal) (e Exit, stopped bool) {
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			// The program's whole group, so a shell wrapper passes it on.
			_ = unix.Kill(-pgid, s.(syscall.Signal))
			stopped = true
		case <-done:
			return exitOf(cmd.ProcessState), stopped
		}
	}
}

// starter starts the program, again and again, from one locked OS thread
// that holds the private mount namespace: a mount namespace made by unshare
// belongs to that thread only, and the program, forked from it, inherits
// it. The thread is never unlocked, so the runtime throws it away instead
// of reusing a thread that sees a different file system.
type starter struct {
	reqs chan chan startResult
}

type startResult struct {
	cmd *exec.Cmd
	err error
}

func newStarter(o Options) (*starter, error) {
	s := &starter{reqs: make(chan chan startResult)}
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread: the thread ends with this goroutine, which
		// lives as long as the supervisor.
		if o.Hide != "" || len(o.Private) > 0 {
			expose := o.Expose
			// The program itself may live in a directory made private
			// (a binary in /tmp): it goes back too.
			if path, err := exec.LookPath(o.Argv[0]); err == nil {
				if abs, err := filepath.Abs(path); err == nil && covered(abs, o.Private) {
					expose = append(expose[:len(expose):len(expose)], abs)
				}
			}
			// So does gwlb-lab itself (this executable), which node
			// programs run by path from inside a shell (the reflector's
			// script, an appliance behind `sh -c`) where the lookup above
			// cannot see it: a lab built in /tmp must still run.
			if self, err := os.Executable(); err == nil && covered(self, o.Private) && !slices.Contains(expose, self) {
				expose = append(expose[:len(expose):len(expose)], self)
			}
			// Sources are read before the private directories cover them
			// (a topology file in /tmp).
			files, ferr := readFiles(o.Files, o.Dir)
			err := hide(o.Hide, expose, o.Private)
			if err != nil {
				// A lab still works without it; say so in the node's log.
				fmt.Fprintf(o.Log, "gwlb-lab supervise: warning: no private file system view for the program: %v\n", err)
			}
			if ferr == nil {
				ferr = placeFiles(files, o.Dir, o.Private, err == nil)
			}
			if ferr != nil {
				fmt.Fprintf(o.Log, "gwlb-lab supervise: %v\n", ferr)
				for out := range s.reqs {
					out <- startResult{nil, ferr}
				}
				return
			}
		}
		env := append(os.Environ(), o.Env...)
		for out := range s.reqs {
			cmd := exec.Command(o.Argv[0], o.Argv[1:]...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
			cmd.Env, cmd.Dir = env, o.Dir
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			err := cmd.Start()
			if err != nil {
				err = fmt.Errorf("start %q: %w", o.Argv[0], err)
			}
			out <- startResult{cmd, err}
		}
	}()
	return s, nil
}

func (s *starter) start() (*exec.Cmd, error) {
	out := make(chan startResult, 1)
	s.reqs <- out
	r := <-out
	return r.cmd, r.err
}

// hide gives the calling thread a private mount namespace with an empty
// tmpfs on dir and on each private directory, and each exposed path
// bind-mounted back. On failure after a tmpfs is mounted it takes the
// tmpfs mounts away again, so that the program at least finds its files.
func hide(dir string, expose, private []string) error {
	hidden := append([]string{}, private...)
	if dir != "" {
		hidden = append(hidden, dir)
	}
	for _, p := range expose {
		if !covered(p, hidden) {
			return fmt.Errorf("exposed path %q is not under %q", p, hidden)
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
	var mounted []string
	undo := func() {
		for i := len(mounted) - 1; i >= 0; i-- {
			_ = unix.Unmount(mounted[i], unix.MNT_DETACH)
		}
	}
	for _, d := range private {
		// A symlink (/var/run -> /run) already leads to a private one.
		if fi, err := os.Lstat(d); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			undo()
			return fmt.Errorf("make %q: %w", d, err)
		}
		mode := "mode=0755"
		if d == "/tmp" || d == "/var/tmp" {
			mode = "mode=1777"
		}
		if err := unix.Mount("gwlb-lab-private", d, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, mode+",size=64m"); err != nil {
			undo()
			return fmt.Errorf("mount a tmpfs on %q: %w", d, err)
		}
		mounted = append(mounted, d)
	}
	if dir != "" && !covered(dir, mounted) {
		if err := unix.Mount("gwlb-lab-hidden", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
			undo()
			return fmt.Errorf("mount a tmpfs on %q: %w", dir, err)
		}
		mounted = append(mounted, dir)
	}
	for i, p := range expose {
		if err := bindBack(fds[i], p); err != nil {
			undo()
			return err
		}
	}
	return nil
}

// covered reports whether dir is one of mounts or below one.
func covered(dir string, mounts []string) bool {
	for _, m := range mounts {
		if rel, err := filepath.Rel(m, dir); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return true
		}
	}
	return false
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
	return writeJSONFile(path, e)
}

// writeJSONFile replaces path atomically with v as JSON; "" writes nothing.
func writeJSONFile(path string, v any) error {
	if path == "" {
		return nil
	}
	return jsonfile.Write(path, v, 0o644, false)
}

// placed is one file to place: its destination and content.
type placed struct {
	dest string
	data []byte
	mode os.FileMode
}

func readFiles(specs []string, dir string) ([]placed, error) {
	var out []placed
	for _, spec := range specs {
		dest, src, ok := strings.Cut(spec, "=")
		if !ok || dest == "" || src == "" {
			return nil, fmt.Errorf("file %q is not DEST=SOURCE", spec)
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(dir, dest)
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("file %q: %w", dest, err)
		}
		mode := os.FileMode(0o644)
		if fi, err := os.Stat(src); err == nil {
			mode = fi.Mode().Perm()
		}
		out = append(out, placed{dest: filepath.Clean(dest), data: data, mode: mode})
	}
	return out, nil
}

// placeFiles writes each file where it goes. A destination outside the
// node's own directories is bound over, which is only done in a private
// mount namespace (isolated), never on the host's.
func placeFiles(files []placed, dir string, private []string, isolated bool) error {
	own := append([]string{}, private...)
	if dir != "" {
		own = append(own, dir)
	}
	for i, f := range files {
		if covered(f.dest, own) {
			if err := os.MkdirAll(filepath.Dir(f.dest), 0o755); err != nil {
				return fmt.Errorf("file %q: %w", f.dest, err)
			}
			if err := os.WriteFile(f.dest, f.data, f.mode); err != nil {
				return fmt.Errorf("file %q: %w", f.dest, err)
			}
			continue
		}
		if !isolated || dir == "" {
			return fmt.Errorf("file %q: outside the node's own directories, and no private mount namespace to cover it in", f.dest)
		}
		if _, err := os.Stat(f.dest); err != nil {
			return fmt.Errorf("file %q: a destination outside /run, /tmp and the working directory must exist on the host: %w", f.dest, err)
		}
		copyPath := filepath.Join(dir, ".gwlb-files", strconv.Itoa(i))
		if err := os.MkdirAll(filepath.Dir(copyPath), 0o755); err != nil {
			return fmt.Errorf("file %q: %w", f.dest, err)
		}
		if err := os.WriteFile(copyPath, f.data, f.mode); err != nil {
			return fmt.Errorf("file %q: %w", f.dest, err)
		}
		if err := unix.Mount(copyPath, f.dest, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("file %q: bind a copy over it: %w", f.dest, err)
		}
	}
	return nil
}
