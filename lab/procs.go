package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gwlb-lab/gwlb-lab/lab/backend"
	"github.com/gwlb-lab/gwlb-lab/lab/backend/netns"
	"github.com/gwlb-lab/gwlb-lab/lab/cgroup"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// How processes are started, tracked and stopped.
//
// Every process `up` starts (the emulator, and in each node the supervisor
// of its program) is tracked three ways, so that `down` stops all of them
// after a crash at any point:
//
//  1. The lab's cgroup (when cgroup v2 is writable here): its directory is
//     recorded in the state file before any process starts, and each process
//     is born into a child of it (clone3 CLONE_INTO_CGROUP), so even one that
//     `up` never got to record, or that forked and daemonized, is in it.
//     `down` kills the whole tree (cgroup.kill) and removes it.
//  2. The start handshake: each child waits on an inherited pipe for one byte
//     that `up` writes only after the state file records its PID, and exits
//     on end of file. If `up` dies in between, the child goes away by itself
//     before it does anything; this covers the emulator, which runs in the
//     host's network namespace, where no cgroup is available.
//  3. The namespace scan: `down` stops every process whose network namespace
//     is one of the lab's (by nsfs device and inode), before removing them.
//     That finds what a node program left behind whatever its group, session
//     or cgroup, and needs no state file at all.

// handshakeFD is the descriptor number the handshake pipe has in the child
// (the first of exec.Cmd.ExtraFiles).
const handshakeFD = 3

// stopGrace is how long `down` lets a process exit after SIGTERM before it
// sends SIGKILL.
const stopGrace = 3 * time.Second

// handshake is the parent's side of a start handshake.
type handshake struct{ r, w *os.File }

func newHandshake() (*handshake, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start handshake pipe: %w", err)
	}
	return &handshake{r: r, w: w}, nil
}

// started drops our copy of the child's end once the child holds its own.
func (h *handshake) started() { h.r.Close() }

// release lets the child go on; call it only once its PID is recorded.
func (h *handshake) release() error {
	_, err := h.w.Write([]byte{1})
	h.w.Close()
	if err != nil {
		return fmt.Errorf("release the started process: %w", err)
	}
	return nil
}

// close ends the handshake; a child still waiting sees end of file and
// exits. Safe after release.
func (h *handshake) close() {
	h.r.Close()
	h.w.Close()
}

// labCgroup returns the cgroup directory lab uses, or "" when cgroups are
// off or there is no cgroup2 hierarchy.
func (m *Manager) labCgroup(lab string) string {
	if m.opts.NoCgroup {
		return ""
	}
	mount, err := cgroup.Mount()
	if err != nil {
		return ""
	}
	dir, err := cgroup.LabDir(mount, lab)
	if err != nil {
		return ""
	}
	return dir
}

// prepareCgroup creates the lab's cgroup directory; it returns "" when the
// hierarchy is missing or not writable, and the lab then runs without.
func (m *Manager) prepareCgroup(lab string) (string, error) {
	dir := m.labCgroup(lab)
	if dir == "" {
		return "", nil
	}
	if err := cgroup.Create(dir); err != nil {
		if errors.Is(err, cgroup.ErrUnavailable) {
			return "", nil
		}
		return "", err
	}
	return dir, nil
}

// childCgroup opens (creating it) the child cgroup name of the lab's, for a
// process to be born into; nil when the lab has no cgroup.
func childCgroup(st *State, name string) (*os.File, error) {
	if st.Cgroup == "" {
		return nil, nil
	}
	dir := filepath.Join(st.Cgroup, name)
	if err := cgroup.Create(dir); err != nil {
		return nil, err
	}
	return cgroup.Open(dir)
}

// nodeCgroup is the name of a node's child cgroup.
func nodeCgroup(node string) string { return "node-" + node }

const emulatorCgroup = "emulator"

// crashPoint kills this process with SIGKILL when the test hook names
// point, so that tests can reproduce a crash of `up` at an exact moment.
func (m *Manager) crashPoint(point string) {
	if m.opts.CrashAt != "" && m.opts.CrashAt == point {
		_ = unix.Kill(os.Getpid(), unix.SIGKILL)
		select {} // SIGKILL cannot be caught; never go on
	}
}

// Crash points for Options.CrashAt.
const (
	CrashEmulatorStarted = "emulator-started"
	CrashProgramStarted  = "program-started"
	// CrashContainerStarted: a container node's own container runs but is
	// not recorded; only its label names it.
	CrashContainerStarted = "container-started"
)

// startEmulator starts `gwlb-lab emulator` in the host namespace, detached
// from this process so that `up` can return, records it and lets it run.
func (m *Manager) startEmulator(p Paths, st *State) error {
	pr, h, err := m.spawnEmulator(p, st)
	if err != nil {
		return err
	}
	defer h.close()
	m.crashPoint(CrashEmulatorStarted)
	st.Processes = append(st.Processes, pr)
	if err := writeState(p, st); err != nil {
		return err
	}
	return h.release()
}

// spawnEmulator starts the emulator, which waits for the handshake.
func (m *Manager) spawnEmulator(p Paths, st *State) (Proc, *handshake, error) {
	log, err := os.OpenFile(p.EmulatorLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return Proc{}, nil, err
	}
	defer log.Close()
	h, err := newHandshake()
	if err != nil {
		return Proc{}, nil, err
	}
	cg, err := childCgroup(st, emulatorCgroup)
	if err != nil {
		h.close()
		return Proc{}, nil, err
	}
	if cg != nil {
		defer cg.Close()
	}
	// The emulator holds this file open for its whole life (descriptor 4,
	// never closed): down finds an emulator by it even when its PID never
	// reached the state file, or the state file is damaged, and the
	// emulator runs in the host's namespace where the scan cannot see it.
	hold, err := os.OpenFile(p.EmulatorHold(), os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		h.close()
		return Proc{}, nil, fmt.Errorf("emulator hold file: %w", err)
	}
	defer hold.Close()
	argv := []string{m.opts.Binary, "emulator", "--config", p.Config(), "--edits", p.Edits(), "--handshake-fd", strconv.Itoa(handshakeFD)}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = []*os.File{h.r, hold}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cg != nil {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(cg.Fd())
	}
	err = cmd.Start()
	if err != nil && cg != nil {
		// clone3 into a cgroup can be refused where plain fork is not
		// (seccomp filters, older kernels): run without, as where there
		// is no cgroup2; the handshake and the hold file still cover it.
		m.progress("emulator: starting it in its cgroup failed (%v); starting it without", err)
		cmd = exec.Command(argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.ExtraFiles = []*os.File{h.r, hold}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		err = cmd.Start()
	}
	if err != nil {
		h.close()
		return Proc{}, nil, fmt.Errorf("start emulator: %w", err)
	}
	h.started()
	startTime, err := netns.ProcessStartTime(cmd.Process.Pid)
	if err != nil {
		h.close() // it exits on end of file
		_ = cmd.Wait()
		return Proc{}, nil, fmt.Errorf("emulator start time: %w", err)
	}
	// Reap it if it exits while this process still runs; once we exit,
	// init does.
	go func() { _ = cmd.Wait() }()
	return Proc{Role: RoleEmulator, PID: cmd.Process.Pid, StartTime: startTime, Argv: argv, Log: p.EmulatorLog()}, h, nil
}

// program is what a node runs and what of the state directory it needs.
type program struct {
	argv []string
	// expose are paths under the state root the program opens itself.
	expose []string
	// env is the node's identity (see nodeEnv); dir its working directory.
	env []string
	dir string
	// restart is the restart policy.
	restart string
}

// privateDirs get a tmpfs of each node program's own: two nodes running
// the same program must not share its sockets, pid files and scratch
// files. /var/run is usually a symlink to /run, and is then skipped.
var privateDirs = [...]string{"/run", "/var/run", "/tmp"}

// nodeEnv is what a node program learns about itself from its environment.
func nodeEnv(l *topology.Lab, n *topology.Node, p Paths) []string {
	env := []string{
		"GWLB_LAB=" + l.Name,
		"GWLB_NODE=" + n.Name,
		"GWLB_IFACE=" + n.Interface.Name,
		"GWLB_MAC=" + n.Interface.MAC.String(),
		"GWLB_ADDR=" + n.Interface.Addr.Addr().String(),
		"GWLB_PREFIX=" + n.Interface.Addr.String(),
		"GWLB_GATEWAY=" + n.Interface.Gateway.String(),
		"GWLB_WORKDIR=" + p.NodeWorkDir(n.Name),
		"GWLB_LOGDIR=" + p.NodeLogDir(n.Name),
	}
	if n.Interface.Addr6.IsValid() {
		env = append(env, "GWLB_ADDR6="+n.Interface.Addr6.Addr().String(), "GWLB_PREFIX6="+n.Interface.Addr6.String(),
			"GWLB_GATEWAY6="+n.Interface.Gateway6.String())
	}
	if n.Interface.PublicIP.IsValid() {
		env = append(env, "GWLB_PUBLIC_IP="+n.Interface.PublicIP.String())
	}
	var nodes []string
	for _, a := range gwlbNodesFor(l, n) {
		nodes = append(nodes, a.String())
	}
	return append(env, "GWLB_NODES="+strings.Join(nodes, ","))
}

// startProgram starts a node's program under `gwlb-lab supervise` in the
// node; the supervisor waits for the handshake, which the caller releases
// once the returned Proc is recorded.
func (m *Manager) startProgram(ctx context.Context, node backend.Node, n *topology.Node, prog program, p Paths, st *State) (Proc, *handshake, error) {
	h, err := newHandshake()
	if err != nil {
		return Proc{}, nil, err
	}
	cg, err := childCgroup(st, nodeCgroup(n.Name))
	if err != nil {
		h.close()
		return Proc{}, nil, err
	}
	if cg != nil {
		defer cg.Close()
	}
	argv := []string{m.opts.Binary, "supervise", "--handshake-fd", strconv.Itoa(handshakeFD),
		"--exit-file", p.ExitFile(n.Name), "--life-file", p.LifeFile(n.Name), "--hide", m.opts.StateRoot}
	if prog.restart != "" {
		argv = append(argv, "--restart", prog.restart)
	}
	for _, d := range privateDirs {
		argv = append(argv, "--private", d)
	}
	expose := prog.expose
	if prog.dir != "" {
		// The working and log directories are the node's own, in the
		// state directory the program otherwise cannot see.
		for _, d := range []string{prog.dir, p.NodeLogDir(n.Name)} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				h.close()
				return Proc{}, nil, fmt.Errorf("make %q: %w", d, err)
			}
		}
		expose = append(expose[:len(expose):len(expose)], prog.dir, p.NodeLogDir(n.Name))
		argv = append(argv, "--dir", prog.dir)
	}
	for _, e := range expose {
		argv = append(argv, "--expose", e)
	}
	for _, e := range prog.env {
		argv = append(argv, "--env", e)
	}
	if n.Run != nil {
		for _, f := range n.Run.Files {
			argv = append(argv, "--file", f.Dest+"="+f.Source)
		}
	}
	argv = append(append(argv, "--"), prog.argv...)
	log := p.NodeLog(n.Name)
	spec := backend.ProcSpec{Argv: argv, LogPath: log, Detach: true, ExtraFiles: []*os.File{h.r}, Cgroup: cg}
	proc, err := node.Start(ctx, spec)
	if err != nil && cg != nil {
		// As for the emulator: without the cgroup, the namespace scan
		// and the handshake still cover it.
		m.progress("node %s: starting its program in its cgroup failed (%v); starting it without", n.Name, err)
		spec.Cgroup = nil
		proc, err = node.Start(ctx, spec)
	}
	if err != nil {
		h.close()
		return Proc{}, nil, err
	}
	h.started()
	return Proc{Node: n.Name, Role: RoleProgram, PID: proc.PID(), StartTime: proc.StartTime(), Argv: prog.argv, Log: log}, h, nil
}

// imageBinary is where the gwlb-lab image keeps its binary: a container
// node with a run section runs that program from it.
const imageBinary = "/gwlb-lab"

// startContainer starts a container node's own container in its holder's
// namespace. With a run section (hasProg), the program is the gwlb-lab
// image's, and the paths it opens in the state directory are mounted at the
// same place, so its logs are where a namespace node's are.
func (m *Manager) startContainer(ctx context.Context, node backend.Node, l *topology.Lab, n *topology.Node, prog program, hasProg bool, p Paths) (Proc, error) {
	// Every container learns its identity (GWLB_*) and gets its own working
	// and log directories, mounted at the paths GWLB_WORKDIR and GWLB_LOGDIR
	// name, as a namespace node's program does. The image's own working
	// directory is kept when it runs its own command.
	spec := backend.ProcSpec{Env: nodeEnv(l, n, p)}
	for _, d := range []string{p.NodeWorkDir(n.Name), p.NodeLogDir(n.Name)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Proc{}, fmt.Errorf("make %q: %w", d, err)
		}
		spec.Binds = append(spec.Binds, d+":"+d)
	}
	if hasProg {
		spec.Argv = slices.Clone(prog.argv)
		if spec.Argv[0] == m.opts.Binary {
			spec.Argv[0] = imageBinary
		}
		for _, e := range prog.expose {
			if b := e + ":" + e; !slices.Contains(spec.Binds, b) {
				spec.Binds = append(spec.Binds, b)
			}
		}
	}
	proc, err := node.Start(ctx, spec)
	if err != nil {
		return Proc{}, err
	}
	argv := spec.Argv
	if argv == nil {
		argv = []string{"(image " + n.Container.Image + ")"}
	}
	return Proc{Node: n.Name, Role: RoleContainer, PID: proc.PID(), StartTime: proc.StartTime(), Argv: argv}, nil
}

// stopProcesses stops everything of a lab that may run: the recorded
// processes first and gently (programs, then the emulator, so nothing
// notices a dead port before it is stopped itself), then every process in
// the lab's namespaces, then whatever is left in its cgroups. It must run
// while the namespaces are still mounted at nsPaths. st may be nil (no or a
// damaged state file).
func (m *Manager) stopProcesses(name string, p Paths, st *State, nsPaths []string) []error {
	var errs []error
	// Identify the namespaces first: stopping the recorded processes must
	// not change what is found, and they are still mounted now.
	nss, err := netns.Identify(nsPaths)
	if err != nil {
		errs = append(errs, err)
	}
	if st != nil {
		var programs, emulators []Proc
		for _, pr := range st.Processes {
			if pr.Role == RoleContainer {
				continue // removed with its container
			}
			if pr.Role == RoleEmulator {
				emulators = append(emulators, pr)
			} else {
				programs = append(programs, pr)
			}
		}
		for _, group := range [][]Proc{programs, emulators} {
			if err := parallel(len(group), func(i int) error {
				pr := group[i]
				if err := netns.Stop(pr.PID, pr.StartTime, stopGrace); err != nil {
					return fmt.Errorf("stop %s (pid %d): %w", pr.Role, pr.PID, err)
				}
				return nil
			}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := stopEmulators(p); err != nil {
		errs = append(errs, err)
	}
	if err := nss.Stop(stopGrace); err != nil {
		errs = append(errs, err)
	}
	for _, dir := range m.cgroupsOf(name, st) {
		if err := cgroup.Kill(dir, 5*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// stopEmulators stops every process that holds the lab's emulator hold
// file: an emulator that was never recorded, or whose record is lost.
func stopEmulators(p Paths) error {
	holding, err := netns.Holding(p.EmulatorHold())
	if err != nil || holding == nil {
		return err
	}
	if err := netns.StopMatching(holding, stopGrace); err != nil {
		return fmt.Errorf("stop the lab's emulator: %w", err)
	}
	return nil
}

// removeCgroups removes the lab's cgroup directories once they are empty,
// and reports whether there were any.
func (m *Manager) removeCgroups(name string, st *State) (bool, error) {
	var (
		errs  []error
		found bool
	)
	for _, dir := range m.cgroupsOf(name, st) {
		found = found || cgroup.Exists(dir)
		if err := cgroup.Remove(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return found, errors.Join(errs...)
}

// cgroupsOf returns the cgroup directories lab may have: the recorded one
// and the one its name gives (a damaged state file records nothing).
func (m *Manager) cgroupsOf(name string, st *State) []string {
	var dirs []string
	// A recorded directory is used only if it is a lab directory of this
	// lab's name: a state file edited by hand must not aim cgroup.kill
	// elsewhere.
	if st != nil && st.Cgroup != "" && filepath.Base(st.Cgroup) == name && filepath.Base(filepath.Dir(st.Cgroup)) == "gwlb-lab" {
		dirs = append(dirs, st.Cgroup)
	}
	if mount, err := cgroup.Mount(); err == nil {
		if dir, err := cgroup.LabDir(mount, name); err == nil && (len(dirs) == 0 || dirs[0] != dir) {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// RestartEmulator starts a lab's emulator again, with the same configuration:
// the same TAPs (persistent, they outlive the emulator) and the same control
// socket. A running emulator is stopped first. Flows, NAT mappings, target
// health and counters lived in the old process and are lost.
func (m *Manager) RestartEmulator(ctx context.Context, name string) (Proc, error) {
	p, err := m.Paths(name)
	if err != nil {
		return Proc{}, err
	}
	st, err := readState(p)
	if err != nil {
		return Proc{}, fmt.Errorf("lab %q: %w", name, err)
	}
	if st.Phase != PhaseUp {
		return Proc{}, fmt.Errorf("lab %q is %s, not up: bring it down and up again", name, st.Phase)
	}
	for _, pr := range st.Processes {
		if pr.Role != RoleEmulator {
			continue
		}
		if err := netns.Stop(pr.PID, pr.StartTime, stopGrace); err != nil {
			return Proc{}, fmt.Errorf("stop the old emulator (pid %d): %w", pr.PID, err)
		}
	}
	// And one that was never recorded: two emulators on the same TAPs and
	// socket would steal each other's frames.
	if err := stopEmulators(p); err != nil {
		return Proc{}, err
	}
	m.progress("lab %s: starting the emulator", name)
	pr, h, err := m.spawnEmulator(p, st)
	if err != nil {
		return Proc{}, err
	}
	defer h.close()
	// Under the lab's lock, from the file: a node added meanwhile keeps
	// its records.
	fresh, err := updateState(p, func(s *State) error {
		s.Processes = append(slices.DeleteFunc(s.Processes, func(pr Proc) bool { return pr.Role == RoleEmulator }), pr)
		return nil
	})
	if err != nil {
		return Proc{}, err
	}
	st = fresh
	if err := h.release(); err != nil {
		return Proc{}, err
	}
	if err := m.waitReady(ctx, p, st); err != nil {
		return Proc{}, err
	}
	return pr, nil
}
