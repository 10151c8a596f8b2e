package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gwlb-lab/gwlb-lab/lab/backend"
	"github.com/gwlb-lab/gwlb-lab/lab/backend/netns"
	"github.com/gwlb-lab/gwlb-lab/lab/cgroup"
	"github.com/gwlb-lab/gwlb-lab/lab/supervise"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// Node lifecycle: `gwlb-lab node stop|start|restart|pause|unpause NODE` act
// on a node's program only. The node's namespace, its TAP and the
// emulator's side of the link stay as they are, so a program started again
// finds its eth0, addresses and routes unchanged, and the emulator never
// notices more than an appliance that stops answering for a while (its
// target goes unhealthy, then healthy again).
//
// A container node's verbs act on its own container through the docker
// backend (docker stop, start, pause, unpause); its holder container owns
// the namespace and eth0 and is never touched.

// ErrNoProgram is returned for a node that runs nothing.
var ErrNoProgram = errors.New("runs no program")

// nodeOf reads a lab that is up and finds one of its nodes.
func (m *Manager) nodeOf(name, node string) (*topology.Lab, *topology.Node, Paths, *State, error) {
	p, err := m.Paths(name)
	if err != nil {
		return nil, nil, Paths{}, nil, err
	}
	st, err := readState(p)
	if err != nil {
		return nil, nil, p, nil, fmt.Errorf("lab %q: %w", name, err)
	}
	if st.Phase != PhaseUp {
		return nil, nil, p, nil, fmt.Errorf("lab %q is %s, not up", name, st.Phase)
	}
	l, err := readResolved(p)
	if err != nil {
		return nil, nil, p, nil, fmt.Errorf("lab %q: resolved topology: %w", name, err)
	}
	n, ok := findNode(l, st, node)
	if !ok {
		return nil, nil, p, nil, fmt.Errorf("lab %q has no node %q (nodes: %s)", name, node, nodeNames(l, st))
	}
	// A container node always runs something: its image's command when it
	// has no run section.
	if n.Run == nil && !inContainer(st, n) {
		return nil, nil, p, nil, fmt.Errorf("node %q %w", node, ErrNoProgram)
	}
	return l, n, p, st, nil
}

// inContainer reports whether node n is a container node.
func inContainer(st *State, n *topology.Node) bool { return st.Backends[n.Netns] == BackendDocker }

// openNode opens a node through the backend that made it.
func (m *Manager) openNode(ctx context.Context, st *State, n *topology.Node) (backend.Node, error) {
	b, err := m.backendOf(ctx, st.Backends[n.Netns])
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", n.Name, err)
	}
	bn, err := b.Open(ctx, n.Netns)
	if err != nil {
		return nil, fmt.Errorf("node %q: %w", n.Name, err)
	}
	return bn, nil
}

// recorded returns the index of node's program in st.Processes, or -1.
func recorded(st *State, node string) int {
	for i, pr := range st.Processes {
		if pr.Role == RoleProgram && pr.Node == node {
			return i
		}
	}
	return -1
}

// NodeStop stops a node's program (and whatever it started, by its cgroup)
// without touching its links. Stopping a stopped program is not an error.
func (m *Manager) NodeStop(ctx context.Context, name, node string) error {
	_, n, p, st, err := m.nodeOf(name, node)
	if err != nil {
		return err
	}
	return m.stopNode(ctx, n, p, st)
}

func (m *Manager) stopNode(ctx context.Context, n *topology.Node, p Paths, st *State) error {
	if inContainer(st, n) {
		bn, err := m.openNode(ctx, st, n)
		if err != nil {
			return err
		}
		if err := bn.Stop(ctx, stopGrace); err != nil {
			return fmt.Errorf("node %q: %w", n.Name, err)
		}
		return nil
	}
	// A frozen program cannot act on SIGTERM: thaw it first.
	_ = m.freeze(n, p, st, false)
	if i := recorded(st, n.Name); i >= 0 {
		pr := st.Processes[i]
		if err := netns.Stop(pr.PID, pr.StartTime, stopGrace); err != nil {
			return fmt.Errorf("node %q: stop its program (pid %d): %w", n.Name, pr.PID, err)
		}
	}
	if st.Cgroup != "" {
		dir := filepath.Join(st.Cgroup, nodeCgroup(n.Name))
		if err := cgroup.Kill(dir, stopGrace); err != nil {
			return fmt.Errorf("node %q: %w", n.Name, err)
		}
		// A program born into a cgroup that was once killed through
		// cgroup.kill is killed at birth here (seen on Linux 6.18); the
		// next start gets a new cgroup.
		if err := cgroup.Remove(dir); err != nil {
			return fmt.Errorf("node %q: %w", n.Name, err)
		}
	}
	return nil
}

// NodeStart starts a node's program again, as `up` did, if it is not
// running. Its restart count starts over.
func (m *Manager) NodeStart(ctx context.Context, name, node string) error {
	l, n, p, st, err := m.nodeOf(name, node)
	if err != nil {
		return err
	}
	if inContainer(st, n) {
		bn, err := m.openNode(ctx, st, n)
		if err != nil {
			return err
		}
		alive, word, err := bn.Alive(ctx)
		switch {
		case err != nil:
			return fmt.Errorf("node %q: %w", node, err)
		case alive && !strings.HasPrefix(word, "holder "): // only the holder runs: no container
			return fmt.Errorf("node %q: its container is running; use restart", node)
		case word == "paused":
			return fmt.Errorf("node %q: its container is paused; use unpause", node)
		}
		return m.startContainerNode(ctx, l, n, p, st, bn)
	}
	if i := recorded(st, n.Name); i >= 0 {
		if alive, _ := netns.Alive(st.Processes[i].PID, st.Processes[i].StartTime); alive {
			return fmt.Errorf("node %q: its program is running (pid %d); use restart", node, st.Processes[i].PID)
		}
	}
	return m.startNode(ctx, l, n, p, st)
}

func (m *Manager) startNode(ctx context.Context, l *topology.Lab, n *topology.Node, p Paths, st *State) error {
	prog, ok, err := m.programOf(l, n, p)
	if err != nil || !ok {
		return fmt.Errorf("node %q: %w", n.Name, errors.Join(err, ErrNoProgram))
	}
	prog.env, prog.dir, prog.restart = nodeEnv(l, n, p), p.NodeWorkDir(n.Name), n.Run.Restart
	// A fresh run: no exit status or restart count of the last one.
	_ = os.Remove(p.ExitFile(n.Name))
	_ = os.Remove(p.LifeFile(n.Name))
	bn, err := m.backend.Open(ctx, n.Netns)
	if err != nil {
		return fmt.Errorf("node %q: %w", n.Name, err)
	}
	proc, h, err := m.startProgram(ctx, bn, n, prog, p, st)
	if err != nil {
		return fmt.Errorf("node %q: %w", n.Name, err)
	}
	defer h.close()
	if err := recordProc(p, st, proc); err != nil {
		return err
	}
	if err := h.release(); err != nil {
		return err
	}
	return m.waitListening(ctx, n, bn.NetNSPath(), p)
}

// startContainerNode starts a container node's own container again (as it
// was made: the docker backend starts the stopped container) and records
// its new first process in place of the old.
func (m *Manager) startContainerNode(ctx context.Context, l *topology.Lab, n *topology.Node, p Paths, st *State, bn backend.Node) error {
	prog, ok, err := m.programOf(l, n, p)
	if err != nil {
		return fmt.Errorf("node %q: %w", n.Name, err)
	}
	// A container removed behind the lab's back is made again, as up
	// made it.
	if b, err := m.dockerBackend(ctx); err == nil {
		b.Adopt(n.Netns, containerSpec(n.Container))
	}
	proc, err := m.startContainer(ctx, bn, l, n, prog, ok, p)
	if err != nil {
		return fmt.Errorf("node %q: %w", n.Name, err)
	}
	if err := recordProc(p, st, proc); err != nil {
		return err
	}
	return m.waitListening(ctx, n, bn.NetNSPath(), p)
}

// NodeRestart stops a node's program and starts it again.
func (m *Manager) NodeRestart(ctx context.Context, name, node string) error {
	l, n, p, st, err := m.nodeOf(name, node)
	if err != nil {
		return err
	}
	if err := m.stopNode(ctx, n, p, st); err != nil {
		return err
	}
	if inContainer(st, n) {
		bn, err := m.openNode(ctx, st, n)
		if err != nil {
			return err
		}
		return m.startContainerNode(ctx, l, n, p, st, bn)
	}
	return m.startNode(ctx, l, n, p, st)
}

// NodePause freezes a node's program: with the lab's cgroup, through the
// cgroup freezer (the whole tree, atomically); without, by SIGSTOP to the
// supervisor and the program's process group; a container node's
// container through docker pause (Docker's cgroup freezer). Its links stay
// up; frames sent to it queue in its TAP until they overflow.
func (m *Manager) NodePause(ctx context.Context, name, node string) error {
	_, n, p, st, err := m.nodeOf(name, node)
	if err != nil {
		return err
	}
	if inContainer(st, n) {
		return m.freezeContainer(ctx, n, st, true)
	}
	return m.freeze(n, p, st, true)
}

// NodeUnpause thaws a paused node's program.
func (m *Manager) NodeUnpause(ctx context.Context, name, node string) error {
	_, n, p, st, err := m.nodeOf(name, node)
	if err != nil {
		return err
	}
	if inContainer(st, n) {
		return m.freezeContainer(ctx, n, st, false)
	}
	return m.freeze(n, p, st, false)
}

func (m *Manager) freezeContainer(ctx context.Context, n *topology.Node, st *State, on bool) error {
	bn, err := m.openNode(ctx, st, n)
	if err != nil {
		return err
	}
	if on {
		err = bn.Pause(ctx)
	} else {
		err = bn.Unpause(ctx)
	}
	if err != nil {
		return fmt.Errorf("node %q: %w", n.Name, err)
	}
	return nil
}

func (m *Manager) freeze(n *topology.Node, p Paths, st *State, on bool) error {
	if st.Cgroup != "" {
		dir := filepath.Join(st.Cgroup, nodeCgroup(n.Name))
		if cgroup.Exists(dir) {
			v := "0"
			if on {
				v = "1"
			}
			if err := os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte(v), 0); err == nil {
				return nil
			}
		}
	}
	sig := unix.SIGCONT
	if on {
		sig = unix.SIGSTOP
	}
	i := recorded(st, n.Name)
	if i < 0 {
		return fmt.Errorf("node %q: no program recorded", n.Name)
	}
	pr := st.Processes[i]
	if alive, _ := netns.Alive(pr.PID, pr.StartTime); !alive {
		return fmt.Errorf("node %q: its program is not running", n.Name)
	}
	var errs []error
	if life, err := supervise.ReadLife(p.LifeFile(n.Name)); err == nil && life != nil && life.PID > 1 {
		// The program leads its own group (the supervisor made it so).
		if err := unix.Kill(-life.PID, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			errs = append(errs, err)
		}
	}
	if err := unix.Kill(pr.PID, sig); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("node %q: %w", n.Name, errors.Join(errs...))
	}
	return nil
}

// paused reports whether a node's cgroup is frozen.
func paused(st *State, node string) bool {
	if st.Cgroup == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(st.Cgroup, nodeCgroup(node), "cgroup.freeze"))
	return err == nil && strings.TrimSpace(string(b)) == "1"
}
