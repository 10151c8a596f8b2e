package netns

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// nsID names a namespace: the device and inode of its nsfs file, the same
// through /run/netns/<name> and through /proc/<pid>/ns/net.
type nsID struct{ dev, ino uint64 }

func namespaceID(path string) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return nsID{}, err
	}
	return nsID{dev: st.Dev, ino: st.Ino}, nil
}

// Namespaces is a set of network namespaces, identified while their bind
// mounts still exist; the processes in them can be found after.
type Namespaces map[nsID]string

// Identify returns the namespaces bind-mounted at paths. Paths that do not
// exist, or are not mounted namespaces (a file left by a crash between
// create and mount), are skipped: nothing can run in them.
func Identify(paths []string) (Namespaces, error) {
	set := Namespaces{}
	var fsType unix.Statfs_t
	for _, p := range paths {
		if err := unix.Statfs(p, &fsType); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, fmt.Errorf("identify namespace %q: %w", p, err)
		}
		if fsType.Type != unix.NSFS_MAGIC {
			continue
		}
		id, err := namespaceID(p)
		if err != nil {
			return nil, fmt.Errorf("identify namespace %q: %w", p, err)
		}
		set[id] = p
	}
	return set, nil
}

// Processes returns the PIDs whose network namespace is in the set (by
// their main thread, as /proc/<pid>/ns/net shows it), except the caller.
func (s Namespaces) Processes() ([]int, error) {
	if len(s) == 0 {
		return nil, nil
	}
	return scan(s.has)
}

// has reports whether pid's network namespace is in the set; a process
// that is gone, or whose namespace cannot be read (a kernel thread), is not.
func (s Namespaces) has(pid int) bool {
	id, err := namespaceID("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return false
	}
	_, ok := s[id]
	return ok
}

// Stop stops every process in the set's namespaces, whatever started it and
// whatever group or session it is in; see StopMatching.
func (s Namespaces) Stop(grace time.Duration) error {
	if len(s) == 0 {
		return nil
	}
	if err := StopMatching(s.has, grace); err != nil {
		return fmt.Errorf("stop the processes in the lab's namespaces: %w", err)
	}
	return nil
}

// Signal sends sig to every process in the set's namespaces (SIGSTOP and
// SIGCONT pause and resume them). A process forked while this runs is
// caught by a later round: rounds repeat until one finds nobody new.
func (s Namespaces) Signal(sig unix.Signal) error {
	if len(s) == 0 {
		return nil
	}
	if err := SignalMatching(s.has, sig); err != nil {
		return fmt.Errorf("signal the processes in the namespaces: %w", err)
	}
	return nil
}

// signalRounds bounds SignalMatching against a process that forks without
// end.
const signalRounds = 20

// SignalMatching sends sig once to every process that match accepts, in
// rounds until a round finds no process it has not signalled yet.
func SignalMatching(match func(pid int) bool, sig unix.Signal) error {
	signalled := map[int]bool{}
	for range signalRounds {
		pids, err := scan(match)
		if err != nil {
			return fmt.Errorf("scan processes: %w", err)
		}
		fresh := 0
		for _, pid := range pids {
			if signalled[pid] {
				continue
			}
			if err := signalIf(pid, match, sig); err != nil {
				return err
			}
			signalled[pid] = true
			fresh++
		}
		if fresh == 0 {
			return nil
		}
	}
	return fmt.Errorf("processes still appearing after %d rounds of %s", signalRounds, unix.SignalName(sig))
}

// Holding returns a test for "pid has the file at path open", by the file's
// device and inode; nil when the file does not exist (nobody holds it).
// A lab gives its emulator such a file at start, so that a later process
// can find an emulator whose PID was never recorded.
func Holding(path string) (func(pid int) bool, error) {
	var want unix.Stat_t
	if err := unix.Stat(path, &want); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("stat %q: %w", path, err)
	}
	return func(pid int) bool {
		dir := "/proc/" + strconv.Itoa(pid) + "/fd"
		d, err := os.Open(dir)
		if err != nil {
			return false
		}
		defer d.Close()
		fds, err := d.Readdirnames(-1)
		if err != nil {
			return false
		}
		var st unix.Stat_t
		for _, fd := range fds {
			if unix.Stat(dir+"/"+fd, &st) == nil && st.Dev == want.Dev && st.Ino == want.Ino {
				return true
			}
		}
		return false
	}, nil
}

// scan returns the PIDs, other than the caller's, that match.
func scan(match func(pid int) bool) ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var pids []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == self {
			continue
		}
		if match(pid) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// StopMatching stops every process that match accepts: SIGTERM, up to
// grace for them to exit, then SIGKILL, until none is left or killWait
// more has passed. Processes that fork while this runs, and still match,
// are caught by the next round.
//
// Each signal goes through a pidfd opened before match is asked again, so a
// PID that was reused between the scan and the signal is never hit.
func StopMatching(match func(pid int) bool, grace time.Duration) error {
	sig := unix.SIGTERM
	termUntil := time.Now().Add(grace)
	killUntil := termUntil.Add(killWait)
	signalled := map[int]bool{}
	for {
		pids, err := scan(match)
		if err != nil {
			return fmt.Errorf("scan processes: %w", err)
		}
		live := 0
		for _, pid := range pids {
			st, err := readStat(pid)
			if err != nil || !st.live() {
				continue
			}
			live++
			if sig == unix.SIGTERM && signalled[pid] {
				continue
			}
			if err := signalIf(pid, match, sig); err != nil {
				return err
			}
			signalled[pid] = true
		}
		if live == 0 {
			return nil
		}
		now := time.Now()
		if sig == unix.SIGTERM && now.After(termUntil) {
			sig = unix.SIGKILL
			continue
		}
		if now.After(killUntil) {
			return fmt.Errorf("%d processes still running %s after SIGKILL", live, killWait)
		}
		time.Sleep(pollInterval)
	}
}

func signalIf(pid int, match func(pid int) bool, sig unix.Signal) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pidfd of pid %d: %w", pid, err)
	}
	defer unix.Close(fd)
	if !match(pid) {
		return nil // exited, and its PID may name someone else now
	}
	err = unix.PidfdSendSignal(fd, sig, nil, 0)
	if err != nil && !errors.Is(err, unix.ESRCH) && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("signal pid %d: %w", pid, err)
	}
	return nil
}
