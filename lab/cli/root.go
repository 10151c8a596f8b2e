package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/spf13/cobra"
)

// Env is everything a command may touch of the outside world.
type Env struct {
	Args    []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Version string
	// StateRoot and NetnsDir override where labs keep their state and
	// their namespaces ("" means /run/gwlb-lab and /run/netns); tests
	// point them at temporary directories.
	StateRoot string
	NetnsDir  string
}

// Exit statuses other than 0 (success) and 1 (any other failure). A command
// run with exec exits with the status of the command it ran, and 126/127 as a
// shell does when that command cannot be run.
const (
	// ExitNoLab: the lab named (or the only one looked for) is not up.
	ExitNoLab = 3
	// ExitDegraded: status of a lab that is up but not whole: its emulator
	// died or does not answer (gwlb-lab emulator restart).
	ExitDegraded = 4
	// ExitNotExecutable: exec found the program but could not run it.
	ExitNotExecutable = 126
	// ExitNotFound: exec found no such program.
	ExitNotFound = 127
)

// ExitError carries a specific exit code out of a command. Commands return it
// when the failure has already been reported (for example validation errors
// printed as a list) and only the exit status remains to be set.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// NewRoot builds the whole command tree.
func NewRoot(env Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "gwlb-lab",
		Short: "Local emulation lab for AWS Gateway Load Balancer and its endpoints",
		Long: `gwlb-lab emulates AWS Gateway Load Balancer (GWLB), its endpoints (GWLBE) and
the VPC around them on one Linux machine, so that real appliance software can be
tested against ingress, egress and failover scenarios offline.

Lab names are 1 to 12 lowercase letters, digits and hyphens. Exit status: 0
done, 1 failed, 3 the lab named (or any lab, when none is named) is not up,
4 (status) the lab is up but degraded: its emulator is not running;
exec exits with its command's status, 127 when the command is not there and
126 when it cannot be run.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       env.Version,
	}
	root.SetVersionTemplate(versionLine(env.Version))
	root.InitDefaultVersionFlag()
	if f := root.Flags().Lookup("version"); f != nil { // only with a version
		f.Usage = "print the version, as the version command does"
	}
	root.SetArgs(env.Args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.AddCommand(newVersionCmd(env))
	root.AddCommand(newValidateCmd(env))
	root.AddCommand(newSchemaCmd(env))
	root.AddCommand(newScenarioCmd(env))
	root.AddCommand(newUpCmd(env), newDownCmd(env), newStatusCmd(env), newNodesCmd(env), newInspectCmd(env), newExecCmd(env))
	root.AddCommand(newFlowsCmd(env), newEndpointsCmd(env), newTargetsCmd(env), newEventsCmd(env), newCaptureCmd(env), newTraceCmd(env), newLogsCmd(env), newNodeCmd(env))
	root.AddCommand(newLinkCmd(env), newRouteCmd(env), newTGWCmd(env), newASGCmd(env))
	root.AddCommand(newEmulatorCmd(env), newApplianceCmd(env), newEchoCmd(env), newProbeCmd(env), newTrafficCmd(env), newSuperviseCmd(env), newHoldCmd(env))
	return root
}

// Main runs the command tree and returns the process exit code.
func Main(ctx context.Context, env Env) int {
	root := NewRoot(env)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	fmt.Fprintf(env.Stderr, "gwlb-lab: %v\n", err)
	if errors.Is(err, lab.ErrNoLab) {
		return ExitNoLab
	}
	return 1
}
