package gwlblab

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
)

// Exit statuses of the gwlb-lab command that mean something to callers.
const (
	exitNoLab    = 3
	exitDegraded = 4
)

// Errors that callers can test with errors.Is.
var (
	// ErrNoBinary: the gwlb-lab binary was not found.
	ErrNoBinary = errors.New("gwlb-lab binary not found")
	// ErrNoLab: the lab named is not up.
	ErrNoLab = errors.New("no such lab")
	// ErrDegraded: the lab is up but its emulator is not running or not
	// answering (Status returns the status with it).
	ErrDegraded = errors.New("lab is degraded")
	// ErrNotFound: the emulator has no node, target or endpoint of that name.
	ErrNotFound = control.ErrNotFound
	// ErrBadRequest: the emulator refused a request (a bad filter).
	ErrBadRequest = control.ErrBadRequest
)

// Options say which lab to bring up or open, and how.
type Options struct {
	// File is a topology file. Topology is a topology's text instead (it
	// is written to a temporary file, removed by Down). With neither, the
	// embedded default lab comes up.
	File     string
	Topology []byte
	// Name is the lab's name; empty picks a random one (RandomName).
	Name string
	// Bin is the gwlb-lab binary; empty takes $GWLB_LAB_BIN, then
	// gwlb-lab on PATH.
	Bin string
	// NoWait makes Up return without waiting for every target's first
	// health verdict (up --no-wait).
	NoWait bool
	// UpArgs are more arguments for gwlb-lab up (--keep-on-failure).
	UpArgs []string
	// Env is added to the binary's environment (KEY=VALUE).
	Env []string
	// Progress receives up's and down's progress lines; nil discards
	// them (errors still carry the last lines).
	Progress io.Writer
}

// Lab is a lab that is up.
type Lab struct {
	name     string
	bin      string
	env      []string
	progress io.Writer
	stateDir string
	temp     string // topology file written by Up, removed by Down
	ctl      *client
}

// Name is the lab's name.
func (l *Lab) Name() string { return l.name }

// StateDir is the lab's state directory (/run/gwlb-lab/<lab>).
func (l *Lab) StateDir() string { return l.stateDir }

// Socket is the path of the emulator's control socket.
func (l *Lab) Socket() string { return filepath.Join(l.stateDir, "control.sock") }

// Bin is the gwlb-lab binary the lab is driven with.
func (l *Lab) Bin() string { return l.bin }

// RandomName returns a lab name that no other run picks: "t" and 6 random
// lowercase letters and digits (lab names have at most 12 characters).
func RandomName() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return "t" + string(b)
}

// FindBinary returns the gwlb-lab binary: bin if set, else $GWLB_LAB_BIN,
// else gwlb-lab on PATH, as an absolute path (node programs run it too).
func FindBinary(bin string) (string, error) {
	if bin == "" {
		bin = os.Getenv("GWLB_LAB_BIN")
	}
	if bin == "" {
		p, err := exec.LookPath("gwlb-lab")
		if err != nil {
			return "", fmt.Errorf("%w: set Options.Bin or $GWLB_LAB_BIN, or put gwlb-lab on PATH (make build writes bin/gwlb-lab)", ErrNoBinary)
		}
		bin = p
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(abs); err != nil || st.IsDir() {
		return "", fmt.Errorf("%w: %s is not a file", ErrNoBinary, abs)
	}
	return abs, nil
}

// Up brings a lab up and returns it once it is up (and, unless
// Options.NoWait, once every target has its first health verdict). The
// caller removes it with Down. When up fails, gwlb-lab has already removed
// what it made; the error carries the end of its output.
func Up(ctx context.Context, opts Options) (*Lab, error) {
	if opts.File != "" && opts.Topology != nil {
		return nil, errors.New("gwlblab.Up: give File or Topology, not both")
	}
	l, err := newLab(opts)
	if err != nil {
		return nil, err
	}
	args := []string{"up", "--name", l.name, "--json"}
	file := opts.File
	if opts.Topology != nil {
		f, err := os.CreateTemp("", "gwlblab-*.yaml")
		if err != nil {
			return nil, err
		}
		_, werr := f.Write(opts.Topology)
		if err := errors.Join(werr, f.Close()); err != nil {
			os.Remove(f.Name())
			return nil, err
		}
		file, l.temp = f.Name(), f.Name()
	}
	if file != "" {
		args = append(args, "-f", file)
	}
	if opts.NoWait {
		args = append(args, "--no-wait")
	}
	args = append(args, opts.UpArgs...)
	res, err := l.Run(ctx, args...)
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		if l.temp != "" {
			os.Remove(l.temp)
		}
		return nil, err
	}
	var s labapi.Status
	if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil {
		return nil, fmt.Errorf("gwlb-lab up --json printed no status (%v): is %s an older gwlb-lab?", err, l.bin)
	}
	l.stateDir = s.StateDir
	l.ctl = newClient(l.Socket())
	return l, nil
}

// Open returns a lab that is already up, by opts.Name (and opts.Bin).
func Open(ctx context.Context, opts Options) (*Lab, error) {
	if opts.Name == "" {
		return nil, errors.New("gwlblab.Open: Options.Name names the lab to open")
	}
	l, err := newLab(opts)
	if err != nil {
		return nil, err
	}
	s, err := l.Status(ctx)
	if s == nil {
		return nil, err
	}
	l.stateDir = s.StateDir
	l.ctl = newClient(l.Socket())
	return l, nil
}

func newLab(opts Options) (*Lab, error) {
	bin, err := FindBinary(opts.Bin)
	if err != nil {
		return nil, err
	}
	name := opts.Name
	if name == "" {
		name = RandomName()
	}
	p := opts.Progress
	if p == nil {
		p = io.Discard
	}
	return &Lab{name: name, bin: bin, env: opts.Env, progress: p}, nil
}

// Down removes the lab. A lab already gone is not an error.
func (l *Lab) Down(ctx context.Context) error {
	if l.temp != "" {
		defer os.Remove(l.temp)
	}
	res, err := l.Run(ctx, "down", "--name", l.name)
	if err != nil {
		return err
	}
	if err := res.Err(); err != nil && !errors.Is(err, ErrNoLab) {
		return err
	}
	return nil
}

// Result is how a command ended: its exit code and what it printed.
type Result struct {
	Args           []string
	Code           int
	Stdout, Stderr string
}

// Err is nil when the command exited 0, else a *CommandError.
func (r Result) Err() error {
	if r.Code == 0 {
		return nil
	}
	return &CommandError{Result: r}
}

// CommandError is a command that exited with a status other than 0.
type CommandError struct {
	Result
}

func (e *CommandError) Error() string {
	msg := lastLines(e.Stderr, 10)
	if msg == "" {
		msg = lastLines(e.Stdout, 10)
	}
	if msg != "" {
		msg = ": " + msg
	}
	return fmt.Sprintf("%s: exit status %d%s", strings.Join(e.Args, " "), e.Code, msg)
}

// Is makes a gwlb-lab command's exit status 3 ErrNoLab and 4 ErrDegraded.
// (exec passes its command's status through: Exec never returns one.)
func (e *CommandError) Is(target error) bool {
	if len(e.Args) > 1 && filepath.Base(e.Args[0]) == "gwlb-lab" && e.Args[1] == "exec" {
		return false
	}
	return (target == ErrNoLab && e.Code == exitNoLab) || (target == ErrDegraded && e.Code == exitDegraded)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// Run runs the gwlb-lab binary with args and returns how it ended; the
// error is for a binary that could not run at all (or a cancelled ctx). A
// cancelled ctx stops the command with SIGTERM, which up and down answer by
// cleaning up, and kills it 30 s later.
func (l *Lab) Run(ctx context.Context, args ...string) (Result, error) {
	return l.run(ctx, nil, args...)
}

func (l *Lab) run(ctx context.Context, stdin io.Reader, args ...string) (Result, error) {
	if l.bin == "" {
		return Result{}, errors.New("gwlblab: this Lab has no gwlb-lab binary (NewControlClient reads the emulator only; use Up or Open)")
	}
	cmd := exec.CommandContext(ctx, l.bin, args...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	cmd.Env = append(os.Environ(), l.env...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = io.MultiWriter(&errb, l.progress)
	err := cmd.Run()
	r := Result{Args: append([]string{"gwlb-lab"}, args...), Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee) && ctx.Err() == nil && ee.Exited():
		r.Code = ee.ExitCode()
	case ctx.Err() != nil:
		return r, fmt.Errorf("gwlb-lab %s: %w", strings.Join(args, " "), ctx.Err())
	default:
		return r, fmt.Errorf("run %s: %w", l.bin, err)
	}
	return r, nil
}

// Status returns the lab's status as `gwlb-lab status --json` prints it.
// For a degraded lab it returns the status and an error wrapping
// ErrDegraded that names the problems.
func (l *Lab) Status(ctx context.Context) (*labapi.Status, error) {
	res, err := l.Run(ctx, "status", "--json", "--name", l.name)
	if err != nil {
		return nil, err
	}
	if res.Code != 0 && res.Code != exitDegraded {
		return nil, res.Err()
	}
	var s labapi.Status
	if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil {
		return nil, fmt.Errorf("gwlb-lab status --json: %w", err)
	}
	if res.Code == exitDegraded {
		return &s, fmt.Errorf("lab %s: %w: %s", l.name, ErrDegraded, strings.Join(s.Problems, "; "))
	}
	return &s, nil
}

// NodeInfo returns one node's entry of the lab's status (address, program,
// state).
func (l *Lab) NodeInfo(ctx context.Context, node string) (labapi.NodeStatus, error) {
	s, err := l.Status(ctx)
	if s == nil {
		return labapi.NodeStatus{}, err
	}
	for _, n := range s.Nodes {
		if n.Name == node {
			return n, nil
		}
	}
	return labapi.NodeStatus{}, fmt.Errorf("lab %s has no node %q: %w", l.name, node, ErrNotFound)
}

// Exec runs argv inside node and returns how it ended. The error is only
// for a command that could not be started at all; a command that exits
// non-zero is a Result with that Code (Result.Err turns it into an error).
func (l *Lab) Exec(ctx context.Context, node string, argv ...string) (Result, error) {
	if len(argv) == 0 {
		return Result{}, errors.New("gwlblab: Exec needs a command")
	}
	return l.Run(ctx, append([]string{"exec", "--name", l.name, node, "--"}, argv...)...)
}

// ExecInput is Exec with stdin.
func (l *Lab) ExecInput(ctx context.Context, stdin io.Reader, node string, argv ...string) (Result, error) {
	if len(argv) == 0 {
		return Result{}, errors.New("gwlblab: Exec needs a command")
	}
	return l.run(ctx, stdin, append([]string{"exec", "--name", l.name, node, "--"}, argv...)...)
}

// Node is one node of a lab, for the verbs that act on its program (its
// links stay, see gwlb-lab node --help).
type Node struct {
	lab  *Lab
	name string
}

// Node returns the node of that name (not checked until used).
func (l *Lab) Node(name string) *Node { return &Node{lab: l, name: name} }

// Name is the node's name.
func (n *Node) Name() string { return n.name }

func (n *Node) verb(ctx context.Context, verb string) error {
	res, err := n.lab.Run(ctx, "node", verb, n.name, "--name", n.lab.name)
	if err != nil {
		return err
	}
	return res.Err()
}

// Stop stops the node's program (and everything it started).
func (n *Node) Stop(ctx context.Context) error { return n.verb(ctx, "stop") }

// Start starts a stopped node's program again.
func (n *Node) Start(ctx context.Context) error { return n.verb(ctx, "start") }

// Restart stops the node's program and starts it again.
func (n *Node) Restart(ctx context.Context) error { return n.verb(ctx, "restart") }

// Pause freezes the node's program.
func (n *Node) Pause(ctx context.Context) error { return n.verb(ctx, "pause") }

// Unpause thaws a paused node's program.
func (n *Node) Unpause(ctx context.Context) error { return n.verb(ctx, "unpause") }

// Exec runs argv inside the node (see Lab.Exec).
func (n *Node) Exec(ctx context.Context, argv ...string) (Result, error) {
	return n.lab.Exec(ctx, n.name, argv...)
}

// FlowLog reads a reference appliance node's flow log (empty when it has
// none yet): the rotated generation, then the current one.
func (l *Lab) FlowLog(ctx context.Context, node string) ([]labapi.FlowRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if strings.ContainsAny(node, "/\x00") || node == "" || node == "." || node == ".." {
		return nil, fmt.Errorf("node name %q is not a node name", node)
	}
	return labapi.ReadFlowLog(filepath.Join(l.stateDir, "logs", node+".flows.jsonl"))
}
