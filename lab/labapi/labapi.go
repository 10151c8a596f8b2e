package labapi

import (
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
)

// Status is a lab's state as `gwlb-lab status` shows it.
type Status struct {
	Lab      string    `json:"lab"`
	Phase    string    `json:"phase"`
	Error    string    `json:"error,omitempty"`
	File     string    `json:"file"`
	Created  time.Time `json:"created"`
	StateDir string    `json:"state_dir"`
	// Degraded is set for a lab that is up but whose emulator is not
	// running or not answering; Problems say what is wrong.
	Degraded bool           `json:"degraded"`
	Problems []string       `json:"problems,omitempty"`
	Emulator EmulatorStatus `json:"emulator"`
	Nodes    []NodeStatus   `json:"nodes"`
	Counters *api.Counters  `json:"counters,omitempty"`
}

// EmulatorStatus is the emulator process's health.
type EmulatorStatus struct {
	PID       int     `json:"pid"`
	Running   bool    `json:"running"`
	Answering bool    `json:"answering"`
	Error     string  `json:"error,omitempty"`
	Uptime    string  `json:"uptime,omitempty"`
	TimeScale float64 `json:"time_scale,omitempty"`
	// Threads is how many threads run the emulator (--procs).
	Threads int    `json:"threads,omitempty"`
	Log     string `json:"log"`
}

// NodeStatus is one node.
type NodeStatus struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// ID is an instance's id (i-<17 hex>).
	ID       string   `json:"id,omitempty"`
	Netns    string   `json:"netns"`
	VPC      string   `json:"vpc,omitempty"`
	Subnet   string   `json:"subnet,omitempty"`
	AZ       string   `json:"az,omitempty"`
	Address  string   `json:"address"`
	PublicIP string   `json:"public_ip,omitempty"`
	MAC      string   `json:"mac"`
	Gateway  string   `json:"gateway"`
	Program  []string `json:"program,omitempty"`
	PID      int      `json:"pid,omitempty"`
	Running  bool     `json:"running"`
	// ExitCode is how the program ended, once it has: its exit status, or
	// 128+N when signal N killed it (ExitSignal names it).
	ExitCode   *int   `json:"exit_code,omitempty"`
	ExitSignal string `json:"exit_signal,omitempty"`
	Log        string `json:"log,omitempty"`
	// Backend is what makes the node: netns or docker.
	Backend string `json:"backend"`
	// Container is a container node's container name and ContainerState
	// Docker's word for its state ("running", "exited (1)", ...).
	Container      string `json:"container,omitempty"`
	ContainerState string `json:"container_state,omitempty"`
	// Restarts counts how often the restart policy started the program
	// again; ProgramPID is its current process (PID is its supervisor's).
	Restarts   int `json:"restarts"`
	ProgramPID int `json:"program_pid,omitempty"`
	// Paused is set while `node pause` holds the program frozen.
	Paused bool `json:"paused,omitempty"`
	// Address6 is the node's IPv6 address with its prefix length, if any.
	Address6 string `json:"address6,omitempty"`
	// Runtime marks a node added to the running lab (node add), not one of
	// the topology file's; RuntimePhase is "creating" until its program
	// runs, then "up".
	Runtime      bool   `json:"runtime,omitempty"`
	RuntimePhase string `json:"runtime_phase,omitempty"`
}

// FlowRecord is one line of a reference appliance's flow log (JSON lines,
// logs/<node>.flows.jsonl in the lab's state directory). The appliance writes
// one when it first sees a flow in a direction, and one when it first drops
// a packet of a flow in a direction.
type FlowRecord struct {
	Time     time.Time `json:"time"`
	Event    string    `json:"event"` // "flow" or "drop"
	Src      string    `json:"src"`
	Dst      string    `json:"dst"`
	Proto    uint8     `json:"proto"`
	SrcPort  uint16    `json:"sport,omitempty"`
	DstPort  uint16    `json:"dport,omitempty"`
	Dir      string    `json:"dir"` // original (from the first packet's sender) or reply
	GWLB     string    `json:"gwlb"`
	Endpoint string    `json:"endpoint"`
	Cookie   string    `json:"cookie"`
	Reason   string    `json:"reason,omitempty"`
}
