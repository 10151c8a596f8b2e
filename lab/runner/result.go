package runner

import "github.com/gwlb-lab/gwlb-lab/lab/echo"

// Statuses of a file, a step and an expectation.
const (
	StatusPass    = "pass"    // every expectation held
	StatusFail    = "fail"    // an expectation did not hold
	StatusError   = "error"   // a step could not be done (a wait timed out, a fault is not supported, ...)
	StatusInvalid = "invalid" // the file has errors: nothing was run
	StatusNotUp   = "not_up"  // the lab could not come up
	StatusOK      = "ok"      // a step other than expect that was done
	StatusSkipped = "skipped" // not reached: an earlier step failed to run
)

// Report is every file's result: scenario run's --json output.
type Report struct {
	Passed bool `json:"passed"`
	// ExitCode is the command's exit status: 0 all pass, 1 a mismatch or
	// a step error, 2 a file invalid or a lab that could not come up.
	ExitCode int           `json:"exit_code"`
	Files    []*FileResult `json:"files"`
}

// FileResult is one scenario file's run.
type FileResult struct {
	File string `json:"file"`
	Name string `json:"name,omitempty"`
	Lab  string `json:"lab,omitempty"`
	// Status is pass, fail, error, invalid or not_up.
	Status string `json:"status"`
	// Error says why the file is invalid, the lab did not come up, or
	// which step could not be done.
	Error string `json:"error,omitempty"`
	// Unsupported is set when the file needs what this build or host does
	// not have: the reason.
	Unsupported string `json:"unsupported,omitempty"`
	// Diagnostics are validation's findings (errors and warnings).
	Diagnostics []string      `json:"diagnostics,omitempty"`
	Seconds     float64       `json:"seconds"`
	Steps       []*StepResult `json:"steps"`
	// Kept is true when the lab was left up (--keep).
	Kept bool `json:"kept,omitempty"`
}

// StepResult is one step.
type StepResult struct {
	Path    string `json:"path"` // steps[N]
	Line    int    `json:"line,omitempty"`
	Kind    string `json:"kind"` // traffic, fault, route, asg, wait, expect
	Summary string `json:"summary"`
	// Status: ok, error or skipped for steps other than expect; pass, fail
	// or error for an expect step.
	Status       string          `json:"status"`
	Error        string          `json:"error,omitempty"`
	Seconds      float64         `json:"seconds"`
	Traffic      *TrafficResult  `json:"traffic,omitempty"`
	Expectations []*ExpectResult `json:"expectations,omitempty"`
}

// TrafficResult is what a traffic step (or an expectation's probe) sent
// and got.
type TrafficResult struct {
	Name       string `json:"name,omitempty"`
	From       string `json:"from"`
	To         string `json:"to"`
	Dest       string `json:"dest"`
	Protocol   string `json:"protocol"`
	Port       int    `json:"port,omitempty"`
	Background bool   `json:"background,omitempty"`
	Answered   int    `json:"answered"`
	// Flows is each flow as the traffic client in the node reported it.
	Flows []echo.FlowResult `json:"flows"`
	// DropsMoved are the drop counters that rose while it ran.
	DropsMoved map[string]uint64 `json:"drops_moved,omitempty"`
	Error      string            `json:"error,omitempty"`
}

// ExpectResult is one expectation: expected against observed, and the
// evidence when they differ.
type ExpectResult struct {
	Path     string   `json:"path"` // steps[N].expect[M]
	Line     int      `json:"line,omitempty"`
	Kind     string   `json:"kind"`
	Spec     string   `json:"spec"`
	Status   string   `json:"status"` // pass, fail or error
	Expected string   `json:"expected"`
	Observed string   `json:"observed"`
	Evidence []string `json:"evidence,omitempty"`
	Error    string   `json:"error,omitempty"`
}
