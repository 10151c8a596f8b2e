package lab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/gwlb-lab/gwlb-lab/internal/jsonfile"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// DefaultStateRoot holds one directory per lab.
const DefaultStateRoot = "/run/gwlb-lab"

// Phases of a lab's life, as the state file records them.
const (
	PhaseCreating = "creating"
	PhaseUp       = "up"
	PhaseFailed   = "failed"
)

// State is what a lab's state file records: enough for `down` to remove
// everything, from any process, after any crash.
type State struct {
	Lab     string    `json:"lab"`
	Prefix  string    `json:"prefix"`
	File    string    `json:"file"`
	Created time.Time `json:"created"`
	Phase   string    `json:"phase"`
	Error   string    `json:"error,omitempty"`
	// Namespaces are recorded before they are created.
	Namespaces []string `json:"namespaces"`
	// Backends records, before they are made, the nodes (by namespace
	// name) that a backend other than netns owns; `down` removes each
	// through its own.
	Backends map[string]string `json:"backends,omitempty"`
	// Processes are recorded once started, emulator first; each waits for
	// its record before it runs (the start handshake).
	Processes []Proc `json:"processes"`
	// Cgroup is the lab's cgroup v2 directory, recorded before any process
	// starts; empty when the lab runs without (no writable cgroup2).
	Cgroup string `json:"cgroup,omitempty"`
	// RuntimeNodes are the nodes added to the running lab (`node add`),
	// each recorded, with its namespace in Namespaces, before anything of
	// it is made.
	RuntimeNodes []RuntimeNode `json:"runtime_nodes,omitempty"`
}

// RuntimeNode is a node added to a running lab.
type RuntimeNode struct {
	// Node is the node as `up` would have resolved it: namespace,
	// interface, what runs in it.
	Node topology.Node `json:"node"`
	// Phase is creating until the node's program runs, then up.
	Phase string    `json:"phase"`
	Added time.Time `json:"added"`
	// From says where its body came from: a node file, or like:NODE.
	From string `json:"from,omitempty"`
}

// Proc is a process the lab started.
type Proc struct {
	// Node is the node it runs in; empty for the emulator.
	Node      string   `json:"node,omitempty"`
	Role      string   `json:"role"` // emulator or program
	PID       int      `json:"pid"`
	StartTime uint64   `json:"start_time"`
	Argv      []string `json:"argv"`
	Log       string   `json:"log"`
}

// Roles of processes.
const (
	RoleEmulator = "emulator"
	RoleProgram  = "program"
	// RoleContainer is a container node's own container; its backend
	// stops it, not its PID (which changes when Docker restarts it).
	RoleContainer = "container"
)

// Paths names the files of one lab's state directory.
type Paths struct {
	Dir string
}

func (p Paths) State() string    { return filepath.Join(p.Dir, "state.json") }
func (p Paths) Resolved() string { return filepath.Join(p.Dir, "resolved.json") }
func (p Paths) Config() string   { return filepath.Join(p.Dir, "emulator.json") }
func (p Paths) Socket() string   { return filepath.Join(p.Dir, "control.sock") }

// Lock is the file whose flock makes every read-modify-write of the state
// file of a running lab one step (see Manager.updateState).
func (p Paths) Lock() string { return filepath.Join(p.Dir, "state.lock") }

// Edits is where the emulator keeps the runtime edits in force (links,
// health checks forced to fail, route tables), for the next emulator of
// the lab to apply again.
func (p Paths) Edits() string { return filepath.Join(p.Dir, "runtime-edits.json") }
func (p Paths) EmulatorLog() string {
	return filepath.Join(p.Dir, "emulator.log")
}

// EmulatorHold is the file every emulator of the lab holds open, which
// identifies it without its PID.
func (p Paths) EmulatorHold() string { return filepath.Join(p.Dir, "emulator.hold") }

func (p Paths) NodeLog(node string) string {
	return filepath.Join(p.Dir, "logs", node+".log")
}

// ExitFile is where a node program's supervisor records how it ended.
func (p Paths) ExitFile(node string) string {
	return filepath.Join(p.Dir, "logs", node+".exit")
}

// LifeFile is where a node program's supervisor records its restarts.
func (p Paths) LifeFile(node string) string {
	return filepath.Join(p.Dir, "logs", node+".life")
}

// NodeWorkDir is a node program's working directory (GWLB_WORKDIR).
func (p Paths) NodeWorkDir(node string) string {
	return filepath.Join(p.Dir, "nodes", node)
}

// NodeLogDir is a node program's own log directory (GWLB_LOGDIR).
func (p Paths) NodeLogDir(node string) string {
	return filepath.Join(p.Dir, "logs", node)
}

// FlowLog is where a reference appliance with flow_log writes its flows.
func (p Paths) FlowLog(node string) string {
	return filepath.Join(p.Dir, "logs", node+".flows.jsonl")
}

// ErrNoLab is returned for a lab that has no state directory.
var ErrNoLab = errors.New("no such lab")

// ErrDamagedState is returned for a state file that cannot be parsed (empty,
// truncated, edited); `down` still removes such a lab.
var ErrDamagedState = errors.New("damaged state file")

func readState(p Paths) (*State, error) {
	b, err := os.ReadFile(p.State())
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoLab
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state file %q: %w: %w", p.State(), ErrDamagedState, err)
	}
	return &s, nil
}

// writeState replaces the state file atomically, so a crash mid-write never
// leaves half a file for `down` to trip over.
func writeState(p Paths, s *State) error {
	return writeJSON(p.State(), s)
}

func writeJSON(path string, v any) error {
	return jsonfile.Write(path, v, 0o600, true)
}

// runtimeNode returns the index of the node added at run time named name in
// st.RuntimeNodes, or -1.
func (s *State) runtimeNode(name string) int {
	for i, rn := range s.RuntimeNodes {
		if rn.Node.Name == name {
			return i
		}
	}
	return -1
}

// updateState applies fn to the state file under the lab's lock and writes
// the result: several commands may change a running lab at once (node add
// and remove, run by a controller in parallel, node start, emulator
// restart), and none may lose another's record. fn's error leaves the file
// as it was.
func updateState(p Paths, fn func(*State) error) (*State, error) {
	unlock, err := flock(p.Lock())
	if err != nil {
		return nil, err
	}
	defer unlock()
	st, err := readState(p)
	if err != nil {
		return nil, err
	}
	if err := fn(st); err != nil {
		return st, err
	}
	return st, writeState(p, st)
}

// recordProc records a started process in the state file in place of the
// earlier one of its node and role, and refreshes st from the file.
func recordProc(p Paths, st *State, proc Proc) error {
	fresh, err := updateState(p, func(s *State) error {
		i := slices.IndexFunc(s.Processes, func(pr Proc) bool { return pr.Role == proc.Role && pr.Node == proc.Node })
		if i >= 0 {
			s.Processes[i] = proc
		} else {
			s.Processes = append(s.Processes, proc)
		}
		return nil
	})
	if err != nil {
		return err
	}
	*st = *fresh
	return nil
}
