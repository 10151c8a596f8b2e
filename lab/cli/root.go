package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// Env is everything a command may touch of the outside world.
type Env struct {
	Args    []string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	Version string
}

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
tested against ingress, egress and failover scenarios offline.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(env.Args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.AddCommand(newVersionCmd(env))
	root.AddCommand(newValidateCmd(env))
	root.AddCommand(newSchemaCmd(env))
	root.AddCommand(newUpCmd(env), newDownCmd(env), newStatusCmd(env), newNodesCmd(env), newInspectCmd(env), newExecCmd(env))
	root.AddCommand(newFlowsCmd(env), newEndpointsCmd(env), newTargetsCmd(env), newCaptureCmd(env), newTraceCmd(env), newLogsCmd(env))
	root.AddCommand(newEmulatorCmd(env), newApplianceCmd(env), newEchoCmd(env), newProbeCmd(env), newSuperviseCmd(env))
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
	return 1
}
