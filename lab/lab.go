package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	cnins "github.com/containernetworking/plugins/pkg/ns"
	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/lab/backend"
	"github.com/gwlb-lab/gwlb-lab/lab/backend/docker"
	"github.com/gwlb-lab/gwlb-lab/lab/backend/netns"
	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
	"github.com/gwlb-lab/gwlb-lab/lab/supervise"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/gwlb-lab/gwlb-lab/lab/wire"
)

// ErrExists is returned by Up for a lab that already exists.
var ErrExists = errors.New("already exists")

// ErrNameTaken is returned by Up when another lab records a namespace the lab
// would use (lab "a9" with node "fw-1" and lab "a9-fw" with node "1").
var ErrNameTaken = errors.New("name taken by another lab")

// Options configure a Manager; zero values pick the defaults.
type Options struct {
	// StateRoot holds one directory per lab (DefaultStateRoot).
	StateRoot string
	// NetnsDir is where named namespaces are mounted (/run/netns).
	NetnsDir string
	// Binary is the gwlb-lab executable that runs the emulator and the
	// node programs (default: this executable).
	Binary string
	// Progress receives one-line progress reports; nil discards them.
	Progress io.Writer
	// ReadyTimeout bounds the wait for the emulator to answer (30 s).
	ReadyTimeout time.Duration
	// NoCgroup runs labs without a cgroup even where cgroup v2 is writable,
	// relying on the start handshake and the namespace scan alone (what
	// happens where there is no cgroup2); for tests of that path.
	NoCgroup bool
	// NoWaitTargets makes Up return without waiting for every target's
	// first health verdict.
	NoWaitTargets bool
	// CrashAt is a test hook: `up` kills itself with SIGKILL at that point
	// (CrashEmulatorStarted, CrashProgramStarted), to prove `down` copes.
	CrashAt string
	// HolderImage is the image whose `gwlb-lab hold` holds a container
	// node's namespace (docker.DefaultHolderImage).
	HolderImage string
}

// Manager brings labs up and down.
type Manager struct {
	opts Options
	// backend makes namespace nodes; the docker backend (container
	// nodes) is made on first use, so labs without containers never need
	// a Docker engine.
	backend *netns.Backend

	dockerOnce sync.Once
	docker     *docker.Backend
	dockerErr  error
}

// NewManager returns a manager with opts.
func NewManager(opts Options) (*Manager, error) {
	if opts.StateRoot == "" {
		opts.StateRoot = DefaultStateRoot
	}
	if opts.NetnsDir == "" {
		opts.NetnsDir = netns.DefaultRunDir
	}
	if opts.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the gwlb-lab executable: %w", err)
		}
		opts.Binary = exe
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 30 * time.Second
	}
	return &Manager{opts: opts, backend: netns.New(opts.NetnsDir)}, nil
}

// Backend names, as the state file records them.
const (
	BackendNetns  = "netns"
	BackendDocker = "docker"
)

// backendKind is the backend that makes node n.
func backendKind(n *topology.Node) string {
	if n.Container != nil {
		return BackendDocker
	}
	return BackendNetns
}

// dockerBackend returns the docker backend, connecting on first use.
func (m *Manager) dockerBackend(ctx context.Context) (*docker.Backend, error) {
	m.dockerOnce.Do(func() {
		b, err := docker.New(m.backend, m.opts.HolderImage)
		if err == nil {
			err = b.Ping(ctx)
		}
		m.docker, m.dockerErr = b, err
	})
	return m.docker, m.dockerErr
}

// backendOf returns the backend that owns a node, by its recorded kind.
func (m *Manager) backendOf(ctx context.Context, kind string) (backend.Backend, error) {
	switch kind {
	case "", BackendNetns:
		return m.backend, nil
	case BackendDocker:
		b, err := m.dockerBackend(ctx)
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	return nil, fmt.Errorf("unknown node backend %q", kind)
}

// Paths returns the state paths of a lab. It refuses a name that is not a
// valid lab name (wrapping topology.ErrLabName), so that no caller can build
// a path outside the state root from "..", "." or "a/b".
func (m *Manager) Paths(lab string) (Paths, error) {
	if err := checkName(lab); err != nil {
		return Paths{}, err
	}
	return Paths{Dir: filepath.Join(m.opts.StateRoot, lab)}, nil
}

func (m *Manager) progress(format string, args ...any) {
	fmt.Fprintf(m.opts.Progress, format+"\n", args...)
}

// Up brings up the resolved lab l, read from file. On failure it removes what
// it made, unless keep is set (then `down` removes it).
func (m *Manager) Up(ctx context.Context, l *topology.Lab, file string, keep bool) (err error) {
	p, err := m.Paths(l.Name)
	if err != nil {
		return err
	}
	st := &State{Lab: l.Name, Prefix: l.Prefix, File: file, Created: time.Now().UTC(), Phase: PhaseCreating}
	// Record every namespace before making any, so that `down` finds them
	// whatever point a crash interrupts.
	for i := range l.Nodes {
		n := &l.Nodes[i]
		st.Namespaces = append(st.Namespaces, n.Netns)
		if k := backendKind(n); k != BackendNetns {
			if st.Backends == nil {
				st.Backends = map[string]string{}
			}
			st.Backends[n.Netns] = k
		}
	}
	// Nothing is ours to remove until the claim succeeds: a failed claim
	// (the lab exists, another `up` of it won) returns before the clean-up
	// below is armed.
	if err := m.claim(ctx, l, p, st); err != nil {
		return err
	}
	defer func() {
		if err == nil {
			return
		}
		st.Phase, st.Error = PhaseFailed, err.Error()
		_ = writeState(p, st)
		if !keep {
			m.progress("up failed; removing what was made")
			if derr := m.Down(context.WithoutCancel(ctx), l.Name); derr != nil {
				err = errors.Join(err, fmt.Errorf("clean-up: %w", derr))
			}
		}
	}()
	// The cgroup is made and recorded before any process exists, so that
	// every process of the lab is born into it.
	if st.Cgroup, err = m.prepareCgroup(l.Name); err != nil {
		return err
	}
	if err := writeState(p, st); err != nil {
		return err
	}

	start := time.Now()
	total := len(l.Nodes)
	m.progress("lab %s: creating %d nodes", l.Name, total)
	var made atomic.Int64
	step := max(total/10, 10)
	// Container nodes are started from the node Create returned: only it
	// knows the container's settings.
	nodes := make([]backend.Node, total)
	err = parallel(total, func(i int) error {
		n := &l.Nodes[i]
		if err := ctx.Err(); err != nil {
			return err
		}
		node, err := m.createNode(ctx, l.Name, n)
		if err != nil {
			return fmt.Errorf("node %q: %w", n.Name, err)
		}
		nodes[i] = node
		if done := made.Add(1); done%int64(step) == 0 {
			m.progress("  nodes %d/%d", done, total)
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.progress("  nodes %d/%d", total, total)

	// Every path into a node comes from its backend's node.
	nsPaths := make(map[string]string, total)
	for i, node := range nodes {
		nsPaths[l.Nodes[i].Name] = node.NetNSPath()
	}
	nsPath := func(n *topology.Node) string { return nsPaths[n.Name] }
	snap, err := Compile(l, nsPath, p.Socket())
	if err != nil {
		return err
	}
	if err := snap.Write(p.Config()); err != nil {
		return err
	}
	m.progress("lab %s: starting the emulator", l.Name)
	if err := m.startEmulator(p, st); err != nil {
		return err
	}
	if err := m.waitReady(ctx, p, st); err != nil {
		return err
	}
	m.progress("lab %s: emulator ready; starting node programs", l.Name)
	var mu sync.Mutex // guards st while programs start in parallel
	// When each container node's container started (each written by one
	// goroutine): up checks that they stay up for a moment.
	started := make([]time.Time, len(l.Nodes))
	err = parallel(len(l.Nodes), func(i int) error {
		n := &l.Nodes[i]
		prog, ok, err := m.programOf(l, n, p)
		if err != nil {
			return fmt.Errorf("node %q: %w", n.Name, err)
		}
		if n.Container != nil {
			// A container node always runs: its image's command when it
			// has no run section. Either way it learns who it is.
			proc, err := m.startContainer(ctx, nodes[i], l, n, prog, ok, p)
			if err != nil {
				// Exited before its first process was seen: say how,
				// as when it exits later during up.
				if ended := m.containerEnded(ctx, n, nodes[i]); ended != nil {
					return ended
				}
				return fmt.Errorf("node %q: %w", n.Name, err)
			}
			started[i] = time.Now()
			m.crashPoint(CrashContainerStarted)
			mu.Lock()
			defer mu.Unlock()
			st.Processes = append(st.Processes, proc)
			return writeState(p, st)
		}
		if !ok {
			return nil
		}
		prog.env, prog.dir, prog.restart = nodeEnv(l, n, p), p.NodeWorkDir(n.Name), n.Run.Restart
		proc, h, err := m.startProgram(ctx, nodes[i], n, prog, p, st)
		if err != nil {
			return fmt.Errorf("node %q: %w", n.Name, err)
		}
		defer h.close()
		m.crashPoint(CrashProgramStarted)
		mu.Lock()
		defer mu.Unlock()
		st.Processes = append(st.Processes, proc)
		if err := writeState(p, st); err != nil {
			return err
		}
		return h.release()
	})
	if err != nil {
		return err
	}
	if err := parallel(len(l.Nodes), func(i int) error { return m.waitListening(ctx, &l.Nodes[i], nodes[i].NetNSPath(), p) }); err != nil {
		return err
	}
	if !m.opts.NoWaitTargets {
		if err := m.waitVerdicts(ctx, l, p); err != nil {
			return err
		}
	}
	if err := m.checkContainers(ctx, l, nodes, started); err != nil {
		return err
	}
	st.Phase = PhaseUp
	if err := writeState(p, st); err != nil {
		return err
	}
	m.progress("lab %s is up: %d nodes in %s", l.Name, total, time.Since(start).Round(time.Millisecond))
	return nil
}

// containerSettle is how long a container node's container must have run
// for up to count it started: a command that fails on a missing variable or
// a bad argument exits well within it.
const containerSettle = time.Second

// checkContainers fails up when a container node's container is no longer
// running: its command exited (a missing variable, a bad argument) after
// its start. A namespace node's program is watched by its readiness check; a
// container node without a run section has none, so up watches each
// container until it has run for containerSettle (usually already the case
// once the targets have their first verdicts). A lab whose appliance died at
// start is not up.
func (m *Manager) checkContainers(ctx context.Context, l *topology.Lab, nodes []backend.Node, started []time.Time) error {
	for i := range l.Nodes {
		n := &l.Nodes[i]
		if n.Container == nil {
			continue
		}
		for {
			if err := m.containerEnded(ctx, n, nodes[i]); err != nil {
				return err
			}
			wait := containerSettle - time.Since(started[i])
			if wait <= 0 {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(min(wait, 100*time.Millisecond)):
			}
		}
	}
	return nil
}

// containerEnded returns an error naming the node, its container's state
// and its last output when the container is not running, nil when it runs.
func (m *Manager) containerEnded(ctx context.Context, n *topology.Node, node backend.Node) error {
	running, state, err := node.Alive(ctx)
	if err != nil {
		return fmt.Errorf("node %q: %w", n.Name, err)
	}
	if running {
		return nil
	}
	msg := fmt.Sprintf("node %q: its container is %s", n.Name, state)
	if lg, ok := m.dockerLogs(ctx, node.Name()); ok && lg != "" {
		msg += ": " + lg
	}
	return errors.New(msg)
}

// dockerLogs returns the last lines a container node's container wrote, for
// an error message.
func (m *Manager) dockerLogs(ctx context.Context, name string) (string, bool) {
	b, err := m.backendOf(ctx, BackendDocker)
	if err != nil {
		return "", false
	}
	d, ok := b.(*docker.Backend)
	if !ok {
		return "", false
	}
	var out bytes.Buffer
	if err := d.Logs(ctx, name, false, &out, &out); err != nil {
		return "", false
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | "), true
}

// ownedBy reports whether namespace name is one of l's nodes (and not a node
// of another lab whose name merely starts with l's prefix).
func (m *Manager) ownedBy(name string, l *topology.Lab) bool {
	for _, n := range l.Nodes {
		if n.Netns == name {
			return true
		}
	}
	return false
}

func (m *Manager) createNode(ctx context.Context, lab string, n *topology.Node) (backend.Node, error) {
	b, err := m.backendOf(ctx, backendKind(n))
	if err != nil {
		return nil, err
	}
	node, err := b.Create(ctx, backend.NodeSpec{Name: n.Netns, Lab: lab, Container: containerSpec(n.Container)})
	if err != nil {
		return nil, err
	}
	spec := wire.PortSpec{
		Name:     n.Interface.Name,
		MAC:      n.Interface.MAC[:],
		MTU:      n.Interface.MTU,
		IPv4:     n.Interface.Addr,
		Gateway4: n.Interface.Gateway,
		IPv6:     n.Interface.Addr6,
		Gateway6: n.Interface.Gateway6,
	}
	if err := wire.AddTAP(node.NetNSPath(), spec); err != nil {
		return nil, err
	}
	// An instance without the source/destination check is there to
	// forward (a middlebox or NAT instance); others must not.
	forward := n.Kind == topology.NodeInstance && !n.Interface.SourceDestCheck ||
		n.Run != nil && n.Run.Kind == topology.RunReflector // it routes GENEVE back out
	forward6 := forward && n.Interface.Addr6.IsValid()
	if err := wire.SetForwarding(node.NetNSPath(), forward, forward6); err != nil {
		return node, err
	}
	// A container's /proc/sys is read-only: the settings its program
	// would make itself in a namespace node are made here, after the
	// lab's own, so they win.
	if n.Container != nil && len(n.Container.Sysctls) > 0 {
		if err := wire.SetSysctls(node.NetNSPath(), n.Container.Sysctls); err != nil {
			return node, err
		}
	}
	return node, nil
}

// containerSpec turns a node's container section into the backend's
// settings; nil for a namespace node.
func containerSpec(c *topology.Container) *backend.Container {
	if c == nil {
		return nil
	}
	out := &backend.Container{
		Image: c.Image, Entrypoint: c.Entrypoint, Command: c.Command, CapAdd: c.CapAdd,
		Devices: c.Devices, Volumes: c.Volumes, WorkingDir: c.WorkingDir, User: c.User,
	}
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		out.Env = append(out.Env, k+"="+c.Env[k])
	}
	return out
}

// programOf returns what node n runs, if anything, and which files of the
// state directory it opens itself (everything else there is hidden from it).
func (m *Manager) programOf(l *topology.Lab, n *topology.Node, p Paths) (program, bool, error) {
	if n.Run == nil {
		return program{}, false, nil
	}
	switch n.Run.Kind {
	case topology.RunHTTPEcho:
		port := ":" + strconv.Itoa(n.Run.HTTPEcho.Port)
		return program{argv: []string{m.opts.Binary, "echo", "--node", n.Name, "--http", port, "--udp", port}}, true, nil
	case topology.RunCommand:
		return program{argv: n.Run.Command}, true, nil
	case topology.RunAppliance:
		cfg := filepath.Join(filepath.Dir(p.NodeLog(n.Name)), n.Name+".appliance.json")
		// GENEVE from anything but the GWLB nodes that target it is
		// refused, or two appliances could reflect a packet between them
		// for ever.
		spec := *n.Run.Appliance
		spec.GWLBNodes = gwlbNodesFor(l, n)
		if err := writeJSON(cfg, &spec); err != nil {
			return program{}, false, err
		}
		logs := filepath.Dir(p.NodeLog(n.Name))
		// The appliance replaces its stats file by renaming it in the logs
		// directory, and rotates its flow log there: a file bound on its
		// own cannot be renamed over, so the logs directory goes back
		// whole (the lab's logs, not its control socket or state).
		prog := program{argv: []string{m.opts.Binary, "appliance", "--config", cfg,
			"--stats", filepath.Join(logs, n.Name+".stats.json")}, expose: []string{logs}}
		if n.Run.Appliance.FlowLog {
			fl := p.FlowLog(n.Name)
			prog.argv = append(prog.argv, "--flow-log", fl)
		}
		return prog, true, nil
	case topology.RunReflector:
		return program{argv: reflectorArgv(m.opts.Binary, l, n)}, true, nil
	}
	return program{}, false, fmt.Errorf("unknown program kind %q", n.Run.Kind)
}

// waitReady polls the control socket until the emulator answers with every
// port attached, or dies, or the timeout passes.
func (m *Manager) waitReady(ctx context.Context, p Paths, st *State) error {
	emu := st.Processes[len(st.Processes)-1]
	c := control.NewClient(p.Socket())
	deadline := time.Now().Add(m.opts.ReadyTimeout)
	for {
		var s api.Status
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Get(cctx, api.PathStatus, &s)
		cancel()
		if err == nil {
			return nil
		}
		if alive, _ := netns.Alive(emu.PID, emu.StartTime); !alive {
			return fmt.Errorf("the emulator exited: %s", tail(p.EmulatorLog(), 10))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the emulator did not answer within %s: %s", m.opts.ReadyTimeout, tail(p.EmulatorLog(), 10))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// tail returns the last n lines of a log file, for error messages, led by
// the line that says why the program died when the log holds one (see
// causeLine): a stack trace pushes a panic's message out of any tail.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	cause := causeLine(lines)
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := "log " + path + ":\n" + strings.Join(lines, "\n")
	if cause != "" {
		out = cause + "\n" + out
	}
	return out
}

// Down removes a lab: it stops every process of the lab (see procs.go: the
// recorded ones by PID and start time, then everything in the lab's
// namespaces and cgroup), removes the lab's namespaces, its cgroup and its
// state directory. It works on a half-made lab, after crashes, from a
// damaged state file, and when run again. It never removes a namespace that
// another lab records (see sweepNamespaces). A lab with neither a state
// directory nor namespaces is ErrNoLab.
func (m *Manager) Down(ctx context.Context, name string) error {
	p, err := m.Paths(name)
	if err != nil {
		return err
	}
	st, err := readState(p)
	damaged := errors.Is(err, ErrDamagedState)
	if err != nil && !errors.Is(err, ErrNoLab) && !damaged {
		return err
	}
	if damaged {
		// Removing is what the user asked for: go on from the names.
		m.progress("lab %s: %v; removing it from its names", name, err)
		st = nil
	}
	var errs []error
	_, statErr := os.Lstat(p.Dir)
	found := st != nil || statErr == nil
	// Containers first: their processes run in the lab's namespaces, and
	// the scan below would kill them behind Docker's back.
	n, err := m.removeContainers(ctx, name, st)
	if err != nil {
		errs = append(errs, err)
	}
	found = found || n > 0
	list, err := m.sweepNamespaces(ctx, name, st, p)
	if err != nil {
		errs = append(errs, err)
	}
	// Nothing may run in a namespace once it is unmounted: it would keep
	// the namespace, its TAP and its routes alive, unnamed.
	nsPaths := make([]string, len(list))
	for i, n := range list {
		nsPaths[i] = filepath.Join(m.opts.NetnsDir, n)
	}
	if perrs := m.stopProcesses(name, p, st, nsPaths); len(perrs) > 0 {
		errs = append(errs, perrs...)
	}
	var foundAny atomic.Bool
	if err := parallel(len(list), func(i int) error {
		if _, err := m.backend.Open(ctx, list[i]); err == nil {
			foundAny.Store(true)
		}
		var kind string
		if st != nil {
			kind = st.Backends[list[i]]
		}
		b, err := m.backendOf(ctx, kind)
		if err != nil {
			// Its containers are gone or were reported above; the
			// namespace mount is the netns backend's either way.
			b = m.backend
		}
		return b.Remove(ctx, list[i])
	}); err != nil {
		errs = append(errs, err)
	}
	cgFound, err := m.removeCgroups(name, st)
	if err != nil {
		errs = append(errs, err)
	}
	found = found || foundAny.Load() || cgFound
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := os.RemoveAll(p.Dir); err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("lab %q: %w", name, ErrNoLab)
	}
	return nil
}

// removeContainers removes every container labelled with the lab, whether
// or not the state file records them (an `up` killed between creating a
// container and recording it, a damaged state file). Without a Docker
// engine it is an error only if the state file records container nodes.
func (m *Manager) removeContainers(ctx context.Context, name string, st *State) (int, error) {
	recorded := st != nil && slices.Contains(slices.Collect(maps.Values(st.Backends)), BackendDocker)
	b, err := m.dockerBackend(ctx)
	if err != nil {
		if recorded {
			return 0, fmt.Errorf("lab %q has container nodes: %w", name, err)
		}
		return 0, nil
	}
	n, err := b.RemoveLab(ctx, name)
	if n > 0 {
		m.progress("lab %s: removed %d containers", name, n)
	}
	return n, err
}

func readResolved(p Paths) (*topology.Lab, error) {
	b, err := os.ReadFile(p.Resolved())
	if err != nil {
		return nil, err
	}
	var l topology.Lab
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, err
	}
	return &l, nil
}

// List returns the names of the labs that have a state directory.
func (m *Manager) List() ([]string, error) {
	entries, err := os.ReadDir(m.opts.StateRoot)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		// A directory whose name is not a lab name is not a lab's, and no
		// command could name it.
		if e.IsDir() && checkName(e.Name()) == nil {
			if _, err := os.Stat(filepath.Join(m.opts.StateRoot, e.Name(), "state.json")); err == nil {
				out = append(out, e.Name())
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// Status, EmulatorStatus and NodeStatus are what `gwlb-lab status --json`
// prints; they live in labapi so that programs can read them without
// importing the lab.
type (
	Status         = labapi.Status
	EmulatorStatus = labapi.EmulatorStatus
	NodeStatus     = labapi.NodeStatus
)

// Status reports a lab: what the state file says, whether the recorded
// processes still run, and the emulator's own status and counters.
func (m *Manager) Status(ctx context.Context, name string) (*Status, error) {
	p, err := m.Paths(name)
	if err != nil {
		return nil, err
	}
	st, err := readState(p)
	if err != nil {
		return nil, fmt.Errorf("lab %q: %w", name, err)
	}
	l, err := readResolved(p)
	if err != nil {
		return nil, fmt.Errorf("lab %q: resolved topology: %w", name, err)
	}
	s := &Status{Lab: st.Lab, Phase: st.Phase, Error: st.Error, File: st.File, Created: st.Created, StateDir: p.Dir}
	for _, pr := range st.Processes {
		if pr.Role == RoleEmulator {
			s.Emulator.PID, s.Emulator.Log = pr.PID, pr.Log
			s.Emulator.Running, _ = netns.Alive(pr.PID, pr.StartTime)
		}
	}
	for i := range l.Nodes {
		s.Nodes = append(s.Nodes, m.nodeStatus(ctx, p, st, &l.Nodes[i]))
	}
	for i := range st.RuntimeNodes {
		s.Nodes = append(s.Nodes, m.nodeStatus(ctx, p, st, &st.RuntimeNodes[i].Node))
	}
	if s.Emulator.Running {
		c := control.NewClient(p.Socket())
		var ds api.Status
		if err := c.Get(ctx, api.PathStatus, &ds); err != nil {
			s.Emulator.Error = err.Error()
		} else {
			s.Emulator.Answering, s.Emulator.Uptime, s.Emulator.TimeScale = true, ds.Uptime, ds.TimeScale
			s.Emulator.Threads = ds.Threads
			var fc api.Counters
			if err := c.Get(ctx, api.PathCounters, &fc); err == nil {
				s.Counters = &fc
			}
		}
	}
	if s.Phase == PhaseUp {
		switch {
		case !s.Emulator.Running:
			s.Problems = append(s.Problems, fmt.Sprintf("the emulator is not running (gwlb-lab emulator restart --name %s starts it again; flows are lost)", name))
		case !s.Emulator.Answering:
			s.Problems = append(s.Problems, "the emulator does not answer on its control socket: "+s.Emulator.Error)
		}
		s.Problems = append(s.Problems, portProblems(name, s.Counters)...)
		s.Degraded = len(s.Problems) > 0
	}
	return s, nil
}

// nodeStatus reports one node of a lab: what the state file records of it
// and whether its program runs.
func (m *Manager) nodeStatus(ctx context.Context, p Paths, st *State, n *topology.Node) NodeStatus {
	ns := NodeStatus{
		Name: n.Name, Kind: string(n.Kind), ID: n.ID, Netns: n.Netns, VPC: n.VPC, Subnet: n.Subnet, AZ: n.AZ,
		Address: n.Interface.Addr.String(), MAC: n.Interface.MAC.String(), Gateway: n.Interface.Gateway.String(),
	}
	if n.Interface.Addr6.IsValid() {
		ns.Address6 = n.Interface.Addr6.String()
	}
	if i := st.runtimeNode(n.Name); i >= 0 {
		ns.Runtime, ns.RuntimePhase = true, st.RuntimeNodes[i].Phase
	}
	if n.Interface.PublicIP.IsValid() {
		ns.PublicIP = n.Interface.PublicIP.String()
	}
	var pr Proc
	var recorded bool
	for _, x := range st.Processes {
		if x.Role != RoleEmulator && x.Node == n.Name {
			pr, recorded = x, true
		}
	}
	ns.Backend = st.Backends[n.Netns]
	if ns.Backend == "" {
		ns.Backend = BackendNetns
	}
	if ns.Backend == BackendDocker {
		ns.Container = n.Netns
		ns.ContainerState = "unknown (no docker engine)"
		if recorded {
			ns.Program = pr.Argv
		}
		if b, err := m.backendOf(ctx, ns.Backend); err == nil {
			if bn, err := b.Open(ctx, n.Netns); err == nil {
				ns.Running, ns.ContainerState, _ = bn.Alive(ctx)
				ns.Paused = ns.ContainerState == "paused"
			} else {
				ns.ContainerState = "gone"
			}
		}
		return ns
	}
	if recorded {
		ns.Program, ns.PID, ns.Log = pr.Argv, pr.PID, pr.Log
		ns.Running, _ = netns.Alive(pr.PID, pr.StartTime)
		ns.Paused = paused(st, n.Name)
		if life, err := supervise.ReadLife(p.LifeFile(n.Name)); err == nil && life != nil {
			ns.Restarts, ns.ProgramPID = life.Restarts, life.PID
		}
		if !ns.Running {
			if e, err := supervise.ReadExit(p.ExitFile(n.Name)); err == nil && e != nil {
				ns.ExitCode, ns.ExitSignal = &e.Code, e.Signal
			}
		}
	}
	return ns
}

// portProblems names the node ports the emulator stopped reading: what
// those nodes send goes nowhere, so the lab is degraded. (Ports whose writes
// fail are shown with the counters; they may recover on their own.)
func portProblems(lab string, c *api.Counters) []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, p := range c.Ports {
		if p.ReadError != "" {
			out = append(out, fmt.Sprintf("the emulator stopped reading node %s's port (%s): nothing %s sends is forwarded (gwlb-lab emulator restart --name %s opens it again; flows are lost)",
				p.Node, p.ReadError, p.Node, lab))
		}
	}
	return out
}

// Resolved returns the resolved topology of a running lab.
func (m *Manager) Resolved(name string) (*topology.Lab, error) {
	p, err := m.Paths(name)
	if err != nil {
		return nil, err
	}
	l, err := readResolved(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("lab %q: %w", name, ErrNoLab)
	}
	return l, err
}

// Exec runs argv in a node of a lab, attached to the given streams, and
// returns its exit code.
func (m *Manager) Exec(ctx context.Context, lab, node string, argv []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	l, err := m.Resolved(lab)
	if err != nil {
		return 0, err
	}
	p, err := m.Paths(lab)
	if err != nil {
		return 0, err
	}
	st, _ := readState(p) // nil: the topology file's nodes alone
	n, ok := findNode(l, st, node)
	if !ok {
		return 0, fmt.Errorf("lab %q has no node %q (nodes: %s)", lab, node, nodeNames(l, st))
	}
	var kind string
	if st != nil {
		kind = st.Backends[n.Netns]
	}
	b, err := m.backendOf(ctx, kind)
	if err != nil {
		return 0, fmt.Errorf("node %q: %w", node, err)
	}
	bn, err := b.Open(ctx, n.Netns)
	if err != nil {
		return 0, fmt.Errorf("node %q: %w", node, err)
	}
	return bn.Exec(ctx, argv, stdin, stdout, stderr)
}

// ErrNotContainer is returned by ContainerLogs for a node that is not a
// container node: its log is a file.
var ErrNotContainer = errors.New("not a container node")

// ContainerLogs copies what a container node's container wrote, which
// Docker keeps instead of the lab's logs directory.
func (m *Manager) ContainerLogs(ctx context.Context, lab, node string, follow bool, stdout, stderr io.Writer) error {
	n, ok, err := m.Node(lab, node)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("lab %q has no node %q", lab, node)
	}
	p, err := m.Paths(lab)
	if err != nil {
		return err
	}
	st, err := readState(p)
	if err != nil {
		return fmt.Errorf("lab %q: %w", lab, err)
	}
	if st.Backends[n.Netns] != BackendDocker {
		return fmt.Errorf("node %q: %w", node, ErrNotContainer)
	}
	b, err := m.dockerBackend(ctx)
	if err != nil {
		return err
	}
	return b.Logs(ctx, n.Netns, follow, stdout, stderr)
}

// parallel runs fn(0..n-1) on a few goroutines and joins their errors. Lab
// set-up is mostly waiting on the kernel and on process start-up, so a small
// pool shortens it even on two cores.
func parallel(n int, fn func(i int) error) error {
	const workers = 8
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next atomic.Int64
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Control returns a client for a lab's emulator control socket.
func (m *Manager) Control(name string) (*control.Client, error) {
	p, err := m.Paths(name)
	if err != nil {
		return nil, err
	}
	if _, err := readState(p); err != nil {
		return nil, fmt.Errorf("lab %q: %w", name, err)
	}
	return control.NewClient(p.Socket()), nil
}

// waitListening waits until a node's program accepts TCP connections on the
// port it serves (the echo server's, an appliance's or reflector's health
// port), dialling from inside the node, so that `up` returns a lab that
// answers. Command nodes are not waited for: their ports are unknown.
func (m *Manager) waitListening(ctx context.Context, n *topology.Node, nsPath string, p Paths) error {
	var port int
	timeout := m.opts.ReadyTimeout
	switch {
	case n.Run == nil:
		return nil
	case n.Run.Ready != nil && len(n.Run.Ready.Command) > 0:
		return m.waitReadyCommand(ctx, n, p)
	case n.Run.Ready != nil:
		port, timeout = n.Run.Ready.TCP, n.Run.Ready.Timeout
	case n.Run.Kind == topology.RunHTTPEcho:
		port = n.Run.HTTPEcho.Port
	case n.Run.Kind == topology.RunAppliance:
		port = n.Run.Appliance.HealthPort
	case n.Run.Kind == topology.RunReflector:
		port = n.Run.Reflector.HealthPort
	}
	if port == 0 {
		return nil
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	start := time.Now()
	deadline, next := start.Add(timeout), start.Add(2*time.Second)
	for {
		err := cnins.WithNetNSPath(nsPath, func(cnins.NetNS) error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
		if err == nil {
			return nil
		}
		if e := programEnded(n, p); e != nil {
			return fmt.Errorf("node %q: its program exited with code %d before it listened on port %d: %s", n.Name, e.Code, port, tail(p.NodeLog(n.Name), 5))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node %q: its program does not listen on port %d after %s: %s", n.Name, port, timeout, tail(p.NodeLog(n.Name), 5))
		}
		if now := time.Now(); now.After(next) {
			m.progress("  node %s: waiting for port %d (%s of %s)", n.Name, port, now.Sub(start).Round(time.Second), timeout)
			next = now.Add(2 * time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// programEnded returns how a namespace node's program ended when it has
// ended for good (its restart policy does not start it again), so that a
// wait for it fails at once rather than at its timeout.
func programEnded(n *topology.Node, p Paths) *supervise.Exit {
	e, err := supervise.ReadExit(p.ExitFile(n.Name))
	if err != nil || e == nil || supervise.ShouldRestart(n.Run.Restart, e.Code) {
		return nil
	}
	return e
}

// waitVerdicts waits until every registered target has its first health
// verdict on every GWLB node that checks it: targets start initial and get
// no flow before (spec §4.2), so a lab whose targets are all initial would
// drop its first flows. A target that never answers gets its verdict,
// unhealthy, after unhealthy_threshold regular checks; the wait is bounded
// by that time and the ready timeout.
func (m *Manager) waitVerdicts(ctx context.Context, l *topology.Lab, p Paths) error {
	if len(l.GWLBs) == 0 {
		return nil
	}
	limit := m.opts.ReadyTimeout
	for _, g := range l.GWLBs {
		hc := g.TargetGroup.HealthCheck
		d := time.Duration(float64(hc.Interval*time.Duration(hc.UnhealthyThreshold+1)+hc.Timeout) / max(l.TimeScale, 1e-9))
		limit = max(limit, d+5*time.Second)
	}
	c := control.NewClient(p.Socket())
	deadline := time.Now().Add(limit)
	last := -1
	for {
		var ts []api.TargetHealth
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Get(cctx, api.PathTargets, &ts)
		cancel()
		waiting := map[string]bool{}
		total := map[string]bool{}
		if err == nil {
			for _, t := range ts {
				if t.State == "unused" || t.State == "draining" {
					continue
				}
				total[t.Target] = true
				if t.State == "initial" {
					waiting[t.Target] = true
				}
			}
			if len(waiting) == 0 {
				m.progress("  targets %d/%d with a first health verdict", len(total), len(total))
				return nil
			}
			if done := len(total) - len(waiting); done != last {
				m.progress("  targets %d/%d with a first health verdict", done, len(total))
				last = done
			}
		}
		if time.Now().After(deadline) {
			names := make([]string, 0, len(waiting))
			for t := range waiting {
				names = append(names, t)
			}
			sort.Strings(names)
			if err != nil {
				return fmt.Errorf("target health: %w", err)
			}
			return fmt.Errorf("targets still initial after %s: %s (up --no-wait skips this wait)", limit, strings.Join(names, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitReadyCommand runs a node's ready command in the node until it exits
// 0, showing progress every few seconds, or fails after its timeout.
func (m *Manager) waitReadyCommand(ctx context.Context, n *topology.Node, p Paths) error {
	r := n.Run.Ready
	node, err := m.backend.Open(ctx, n.Netns)
	if err != nil {
		return fmt.Errorf("node %q: %w", n.Name, err)
	}
	start := time.Now()
	deadline := start.Add(r.Timeout)
	next := start.Add(2 * time.Second)
	for {
		cctx, cancel := context.WithDeadline(ctx, deadline)
		code, err := node.Exec(cctx, r.Command, nil, io.Discard, io.Discard)
		cancel()
		if err == nil && code == 0 {
			return nil
		}
		now := time.Now()
		if now.After(deadline) {
			return fmt.Errorf("node %q: not ready after %s: %q exits %d: %s", n.Name, r.Timeout, strings.Join(r.Command, " "), code, tail(p.NodeLog(n.Name), 5))
		}
		if now.After(next) {
			m.progress("  node %s: waiting for %q (%s of %s)", n.Name, strings.Join(r.Command, " "), now.Sub(start).Round(time.Second), r.Timeout)
			next = now.Add(2 * time.Second)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
