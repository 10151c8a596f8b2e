// Package runner runs scenario files (lab/scenario) against a lab: it brings
// the lab up, sends the traffic, applies faults and route edits, waits, and
// judges every expectation with evidence from the emulator (flows, trace,
// drop counters) and the appliances' flow logs. It talks to a running lab
// only through the Lab interface; adapter.go implements it for this build.
package runner

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// ErrUnsupported is wrapped by a Lab's errors for what this build cannot
// do (a fault or route edit the emulator has no control for). The step is
// reported as an error with the reason, never as a pass.
var ErrUnsupported = errors.New("not supported by this build")

// ErrNotInstalled is wrapped by a Launcher's Check for a program the lab
// runs that this host does not have. Like ErrUnsupported, the file is
// reported as not run, never as a pass.
var ErrNotInstalled = errors.New("not installed on this host")

// Unsupported reports whether err says the build or the host lacks what a
// scenario needs.
func Unsupported(err error) bool {
	return errors.Is(err, ErrUnsupported) || errors.Is(err, ErrNotInstalled)
}

// Launcher brings labs up and down.
type Launcher interface {
	// Up brings the resolved lab up (source names its file in messages).
	Up(ctx context.Context, l *topology.Lab, source string) (Lab, error)
	// Down removes the lab named.
	Down(ctx context.Context, name string) error
	// Check says why the lab cannot be run on this host (a program that is
	// not installed), wrapping ErrNotInstalled; nil when it can.
	Check(l *topology.Lab) error
}

// Lab is what the runner needs of a running lab.
type Lab interface {
	// Exec runs argv in a node and returns its exit status.
	Exec(ctx context.Context, node string, argv []string, stdout, stderr io.Writer) (int, error)
	// Flows lists the GWLB nodes' flows.
	Flows(ctx context.Context) ([]Flow, error)
	// Targets lists every target as each GWLB node sees it.
	Targets(ctx context.Context) ([]TargetState, error)
	// Drops returns every drop counter by reason: the fabric's and the
	// sum over the GWLB nodes.
	Drops(ctx context.Context) (map[string]uint64, error)
	// Trace calls fn with every traced packet to or from hosts until ctx
	// ends; it returns once the subscription is in place, and done is
	// closed when it has ended.
	Trace(ctx context.Context, hosts []netip.Addr, fn func(Trace)) (done <-chan struct{}, err error)
	// FlowLog reads an appliance node's flow log; nil when it keeps none.
	FlowLog(ctx context.Context, node string) ([]FlowLogRecord, error)
	// Node runs a node verb: stop, start, restart, pause or unpause.
	Node(ctx context.Context, verb, node string) error
	// Target deregisters or registers a target (GWLB and ID as
	// scenario.ResolveTarget gives them).
	Target(ctx context.Context, verb, gwlb, id string) error
	// Health makes a target's health checks fail (fail true) or run for
	// real again.
	Health(ctx context.Context, gwlb, id string, fail bool) error
	// Link impairs a node's link; nil fields are left as they are.
	Link(ctx context.Context, node string, e LinkEdit) error
	// Route edits a route table: add, replace or delete.
	Route(ctx context.Context, vpc, table, action string, dest netip.Prefix, target string) error
	// SetDesired sets an Auto Scaling group's desired capacity.
	SetDesired(ctx context.Context, group string, n int) error
	// ASGs lists the Auto Scaling groups with their instances.
	ASGs(ctx context.Context) ([]ASGState, error)
}

// ASGState is an Auto Scaling group as the emulator runs it.
type ASGState struct {
	Name      string
	Desired   int
	Instances []ASGInstanceState
}

// ASGInstanceState is one instance of a group (not yet terminated).
type ASGInstanceState struct {
	Name, IP, State string
	// Targets is its state in each target group of the group.
	Targets map[string]string
}

// Flow is one GWLB flow, as the emulator lists it.
type Flow struct {
	GWLB, Node, AZ, Endpoint string
	// Src and Dst are the initiator's side and the responder's:
	// address:port for TCP and UDP, the address otherwise.
	Src, Dst     string
	Proto        uint8
	Target       string
	TargetIP     string
	Cookie       string
	OrigPackets  uint64
	ReplyPackets uint64
}

// TargetState is a target as one GWLB node sees it.
type TargetState struct {
	GWLB, Node, Target, IP, State, Reason string
}

// Trace is one traced packet: where it came in, each decision, how it
// ended.
type Trace struct {
	Time   time.Time
	From   string
	Packet string
	Hops   []string
	Result string
}

// FlowLogRecord is one line of an appliance's flow log.
type FlowLogRecord struct {
	Time     time.Time
	Event    string // flow or drop
	Src, Dst string
	Proto    uint8
	SrcPort  uint16
	DstPort  uint16
	Dir      string // original or reply
	Cookie   string
	Reason   string
}

// LinkEdit impairs a link; nil fields are left as they are.
type LinkEdit struct {
	Down   *bool
	Loss   *float64
	Delay  *time.Duration
	Jitter *time.Duration
}
