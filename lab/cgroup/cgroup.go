package cgroup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrUnavailable means there is no writable cgroup2 hierarchy here.
var ErrUnavailable = errors.New("no writable cgroup v2 hierarchy")

// parent is the directory under the cgroup2 mount that holds one directory
// per lab. It is shared by every lab and never removed.
const parent = "gwlb-lab"

// pollInterval is how often Kill looks whether a tree is empty.
const pollInterval = 5 * time.Millisecond

// Mount returns where the cgroup2 hierarchy is mounted, read from
// /proc/self/mountinfo. No mount is ErrUnavailable.
func Mount() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("find the cgroup2 mount: %w", err)
	}
	defer f.Close()
	return parseMountinfo(f)
}

// parseMountinfo returns the mount point of the first cgroup2 mount in a
// proc(5) mountinfo listing. Fields 1-6 are fixed, then optional fields up
// to a lone "-", then the file system type.
func parseMountinfo(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 7 {
			continue
		}
		for i := 6; i+1 < len(f); i++ {
			if f[i] == "-" {
				if f[i+1] == "cgroup2" {
					return unescapeMountPath(f[4]), nil
				}
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read mountinfo: %w", err)
	}
	return "", fmt.Errorf("%w: no cgroup2 mount", ErrUnavailable)
}

// unescapeMountPath undoes the octal escapes (\040 for a space, ...) the
// kernel writes in mountinfo paths.
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// LabDir is the cgroup directory of lab under the cgroup2 mount. The name
// must be a single path element.
func LabDir(mount, lab string) (string, error) {
	if lab == "" || lab == "." || lab == ".." || strings.ContainsRune(lab, '/') {
		return "", fmt.Errorf("invalid lab name %q for a cgroup", lab)
	}
	return filepath.Join(mount, parent, lab), nil
}

// Create makes dir and its parents. A hierarchy that cannot be written
// (read-only, not permitted) is ErrUnavailable.
func Create(dir string) error {
	err := os.MkdirAll(dir, 0o755)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EROFS) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%w: create %q: %w", ErrUnavailable, dir, err)
	}
	return fmt.Errorf("create cgroup %q: %w", dir, err)
}

// Open returns a descriptor of dir for SysProcAttr.CgroupFD; the caller
// closes it once the child has started.
func Open(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open cgroup %q: %w", dir, err)
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// Exists reports whether dir is there.
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, "cgroup.procs"))
	return err == nil
}

// Procs returns the PIDs of every process in dir and its descendants. A
// missing dir has none.
func Procs(dir string) ([]int, error) {
	var pids []int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, f := range bytes.Fields(b) {
			if pid, err := strconv.Atoi(string(f)); err == nil {
				pids = append(pids, pid)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list processes of cgroup %q: %w", dir, err)
	}
	return pids, nil
}

// Populated reports whether a live process is in dir or below (zombies do
// not count). A missing dir is not populated.
func Populated(dir string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read cgroup %q events: %w", dir, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "populated "); ok {
			return v != "0", nil
		}
	}
	return false, fmt.Errorf("cgroup %q: no populated line in cgroup.events", dir)
}

// Kill sends SIGKILL to every process in dir and below and waits up to wait
// for the tree to be empty. It uses cgroup.kill, which also catches
// processes forked while it runs; on kernels without it (before 5.14) it
// signals the listed PIDs until none is left. A missing dir is not an error.
func Kill(dir string, wait time.Duration) error {
	if !Exists(dir) {
		return nil
	}
	useKillFile := true
	if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0); err != nil {
		if errors.Is(err, fs.ErrNotExist) && !Exists(dir) {
			return nil
		}
		useKillFile = false
	}
	deadline := time.Now().Add(wait)
	for {
		if !useKillFile {
			if err := killListed(dir); err != nil {
				return err
			}
		}
		pop, err := Populated(dir)
		if err != nil {
			return err
		}
		if !pop {
			return nil
		}
		if time.Now().After(deadline) {
			pids, _ := Procs(dir)
			return fmt.Errorf("cgroup %q still has processes %v after %s", dir, pids, wait)
		}
		time.Sleep(pollInterval)
	}
}

// killListed signals each listed PID through a pidfd, after checking that
// the process the pidfd names is still in the tree: a PID listed a moment
// ago may have been reused since.
func killListed(dir string) error {
	pids, err := Procs(dir)
	if err != nil {
		return err
	}
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone
		}
		if in, _ := member(pid, dir); in {
			_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		}
		unix.Close(fd)
	}
	return nil
}

// member reports whether pid is in dir or below, from /proc/<pid>/cgroup.
func member(pid int, dir string) (bool, error) {
	mount, err := Mount()
	if err != nil {
		return false, err
	}
	rel, err := filepath.Rel(mount, dir)
	if err != nil {
		return false, err
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			p = strings.TrimPrefix(p, "/")
			return p == rel || strings.HasPrefix(p, rel+"/"), nil
		}
	}
	return false, nil
}

// Remove removes dir and every directory below it, deepest first. It fails
// (EBUSY) while a live process is in one of them; a missing dir is not an
// error.
func Remove(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove cgroup %q: %w", dir, err)
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := unix.Rmdir(dirs[i]); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("remove cgroup %q: %w", dirs[i], err)
		}
	}
	return nil
}
