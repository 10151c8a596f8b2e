package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	cnins "github.com/containernetworking/plugins/pkg/ns"
	"golang.org/x/sys/unix"

	"github.com/gwlb-lab/gwlb-lab/lab/backend"
)

// pollInterval is how often Stop looks whether the process group is gone.
// Short enough that a well-behaved program stops in a few tens of
// milliseconds, long enough that scanning /proc costs nothing noticeable.
const pollInterval = 10 * time.Millisecond

// killWait bounds how long Stop waits after SIGKILL before reporting the
// group as unkillable (a process stuck in uninterruptible sleep).
const killWait = 5 * time.Second

// process is a program started by Start.
type process struct {
	cmd   *exec.Cmd
	pid   int
	start uint64
}

func (p *process) PID() int          { return p.pid }
func (p *process) StartTime() uint64 { return p.start }
func (p *process) Wait() error       { return p.cmd.Wait() }

// Start runs spec.Argv inside node's network namespace and returns once the
// program has started. The child is forked from a fresh OS thread that has
// joined the namespace (cnins.Do), so it inherits the namespace; the calling
// goroutine's thread is never switched.
//
// A detached program gets its own session (setsid: group leader, no
// controlling terminal, so no SIGHUP when a terminal closes), stdin from
// /dev/null, and no tie to ctx: it keeps running when ctx ends and when the
// caller exits. A program that is not detached gets its own process group and
// the whole group is killed when ctx ends; the caller must Wait for it, which
// also ends the goroutine os/exec uses to watch ctx.
func Start(ctx context.Context, node backend.Node, spec backend.ProcSpec) (backend.Process, error) {
	if len(spec.Argv) == 0 {
		return nil, fmt.Errorf("start in node %q: empty argv", node.Name())
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start %q in node %q: %w", spec.Argv[0], node.Name(), err)
	}
	var cmd *exec.Cmd
	if spec.Detach {
		cmd = exec.Command(spec.Argv[0], spec.Argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	} else {
		cmd = exec.CommandContext(ctx, spec.Argv[0], spec.Argv[1:]...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		// Kill the whole group, not only the leader: a shell wrapper
		// must not leave its children behind.
		cmd.Cancel = func() error { return killGroup(cmd.Process.Pid, unix.SIGKILL) }
	}
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	cmd.ExtraFiles = spec.ExtraFiles
	if spec.Cgroup != nil {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = int(spec.Cgroup.Fd())
	}
	if spec.LogPath != "" {
		f, err := os.OpenFile(spec.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open log for %q in node %q: %w", spec.Argv[0], node.Name(), err)
		}
		// The child gets its own copy of the descriptor; ours is not
		// needed after the fork. An *os.File is passed as is, so no
		// copying goroutine outlives Start.
		defer f.Close()
		cmd.Stdout = f
		cmd.Stderr = f
	}
	if err := startIn(node, cmd); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	st, err := readStat(pid)
	if err != nil {
		// Cannot happen for an unreaped child; if it does, do not leave
		// a process we cannot name.
		_ = killGroup(pid, unix.SIGKILL)
		_ = cmd.Wait()
		return nil, fmt.Errorf("read start time of %q (pid %d) in node %q: %w", spec.Argv[0], pid, node.Name(), err)
	}
	return &process{cmd: cmd, pid: pid, start: st.startTime}, nil
}

// startIn forks cmd from a locked OS thread inside node's namespace.
func startIn(node backend.Node, cmd *exec.Cmd) error {
	err := cnins.WithNetNSPath(node.NetNSPath(), func(cnins.NetNS) error {
		return cmd.Start()
	})
	if err != nil {
		return fmt.Errorf("start %q in node %q: %w", cmd.Path, node.Name(), err)
	}
	return nil
}

// Exec runs argv inside node's network namespace in the foreground, attached
// to stdin, stdout and stderr (nil means /dev/null), and returns its exit
// code; a program killed by signal N reports 128+N, as a shell does. A
// non-zero exit is not an error.
//
// The program stays in the caller's process group, so it can be the
// terminal's foreground job and read an interactive terminal; Ctrl-C reaches
// it directly. When ctx ends the program (only it, not its children) is
// killed and the error wraps ctx.Err(): an interactive caller should use a
// context that SIGINT does not cancel.
func Exec(ctx context.Context, node backend.Node, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	if len(argv) == 0 {
		return -1, fmt.Errorf("exec in node %q: empty argv", node.Name())
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdin = stdin
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	if err := startIn(node, cmd); err != nil {
		return -1, err
	}
	err := cmd.Wait()
	code := exitCode(cmd.ProcessState)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return code, fmt.Errorf("exec %q in node %q: %w", argv[0], node.Name(), ctxErr)
	}
	if err != nil && !errors.As(err, new(*exec.ExitError)) {
		// The program ran but copying its I/O failed.
		return code, fmt.Errorf("exec %q in node %q: %w", argv[0], node.Name(), err)
	}
	return code, nil
}

// exitCode follows the shell convention: the exit status, or 128+N for a
// program killed by signal N.
func exitCode(ps *os.ProcessState) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// Stop stops the program started as pid at startTime, with its process
// group: SIGTERM, up to grace for the group to exit, then SIGKILL.
//
// It is a no-op when pid is gone or belongs to another process now (its start
// time differs): a state file replayed long after the lab died must not kill
// whatever reused the PID. Only a program that is its own group leader (as
// Start makes it) is stopped by group; otherwise only pid is signalled. A
// zombie counts as stopped: reaping it is its parent's job.
func Stop(pid int, startTime uint64, grace time.Duration) error {
	// pid 0 and -1 mean "my group" and "everyone" to kill(2); never let a
	// corrupt state file get there.
	if pid <= 1 {
		return fmt.Errorf("refusing to stop pid %d", pid)
	}
	if pid == os.Getpid() {
		return fmt.Errorf("refusing to stop pid %d: it is the calling process", pid)
	}
	st, err := readStat(pid)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop pid %d: %w", pid, err)
	}
	if st.startTime != startTime {
		return nil
	}
	group := st.pgrp == pid
	if group && st.pgrp == unix.Getpgrp() {
		// Cannot happen for a pid from Start; refuse rather than kill
		// ourselves along with it.
		return fmt.Errorf("refusing to stop pid %d: it leads the calling process's group", pid)
	}
	if err := signal(pid, group, unix.SIGTERM); err != nil {
		return fmt.Errorf("stop pid %d: %w", pid, err)
	}
	if waitGone(pid, group, grace) {
		return nil
	}
	// Before escalating, make sure pid still names our program. If the
	// leader has been reaped, its PID cannot be reused while members of its
	// group live, so signalling the group is still safe.
	if st, err := readStat(pid); err == nil && st.startTime != startTime {
		return nil
	}
	if err := signal(pid, group, unix.SIGKILL); err != nil {
		return fmt.Errorf("kill pid %d: %w", pid, err)
	}
	if waitGone(pid, group, killWait) {
		return nil
	}
	return fmt.Errorf("pid %d still running %v after SIGKILL", pid, killWait)
}

// Alive reports whether pid is running and is the process that started at
// startTime (a zombie is not alive).
func Alive(pid int, startTime uint64) (bool, error) {
	if pid <= 0 {
		return false, nil
	}
	st, err := readStat(pid)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return st.startTime == startTime && st.live(), nil
}

// signal sends sig to pid's group, or to pid alone; a target that is
// already gone is not an error.
func signal(pid int, group bool, sig unix.Signal) error {
	var err error
	if group {
		err = killGroup(pid, sig)
	} else {
		err = unix.Kill(pid, sig)
	}
	if errors.Is(err, unix.ESRCH) || errors.Is(err, os.ErrProcessDone) {
		return nil
	}
	return err
}

// killGroup signals the process group led by pid.
func killGroup(pid int, sig unix.Signal) error {
	if pid <= 1 {
		return fmt.Errorf("refusing to signal group %d", pid)
	}
	err := unix.Kill(-pid, sig)
	if errors.Is(err, unix.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// waitGone polls until no live (non-zombie) process is left in pid's group
// (or pid itself, when not a group) or d has passed.
func waitGone(pid int, group bool, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if gone(pid, group) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
}

func gone(pid int, group bool) bool {
	if !group {
		st, err := readStat(pid)
		return err != nil || !st.live()
	}
	// kill(-pgid, 0) succeeds while any member exists, zombies included,
	// so a member that is only waiting for its parent to reap it needs the
	// /proc scan to count as gone.
	if err := unix.Kill(-pid, 0); errors.Is(err, unix.ESRCH) {
		return true
	}
	live, err := groupHasLive(pid)
	return err == nil && !live
}
