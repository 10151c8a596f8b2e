package cli

import (
	"errors"
	"fmt"

	"github.com/gwlb-lab/gwlb-lab/lab/supervise"
	"github.com/spf13/cobra"
)

// newSuperviseCmd is the hidden command `up` starts in each node to run its
// program; see package supervise.
func newSuperviseCmd(env Env) *cobra.Command {
	var (
		o           supervise.Options
		handshakeFD int
	)
	cmd := &cobra.Command{
		Use:    "supervise [flags] -- PROGRAM [ARG...]",
		Short:  "Run a node program for gwlb-lab up and record its exit status (internal)",
		Hidden: true,
		Args:   cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if handshakeFD >= 0 {
				if err := supervise.AwaitRecorded(handshakeFD); err != nil {
					if errors.Is(err, supervise.ErrNotRecorded) {
						fmt.Fprintf(cmd.ErrOrStderr(), "gwlb-lab supervise: %v; not starting %q\n", err, args[0])
						return &ExitError{Code: 1}
					}
					return err
				}
			}
			o.Argv = args
			o.Log = cmd.ErrOrStderr()
			code, err := supervise.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&handshakeFD, "handshake-fd", -1, "wait for one byte on this descriptor before starting (EOF: exit)")
	cmd.Flags().StringVar(&o.ExitFile, "exit-file", "", "write the program's exit status here as JSON")
	cmd.Flags().StringVar(&o.Hide, "hide", "", "directory to hide from the program behind an empty tmpfs")
	cmd.Flags().StringArrayVar(&o.Expose, "expose", nil, "path under --hide or a --private directory to bind back for the program (repeatable)")
	cmd.Flags().StringArrayVar(&o.Private, "private", nil, "directory given an empty tmpfs of the program's own (repeatable)")
	cmd.Flags().StringArrayVar(&o.Env, "env", nil, "KEY=value added to the program's environment (repeatable)")
	cmd.Flags().StringVar(&o.Dir, "dir", "", "the program's working directory")
	cmd.Flags().StringArrayVar(&o.Files, "file", nil, "DEST=SOURCE: place a copy of SOURCE at DEST before the program starts (repeatable)")
	cmd.Flags().StringVar(&o.Restart, "restart", supervise.RestartNever, "restart policy: never, on-failure or always")
	cmd.Flags().StringVar(&o.LifeFile, "life-file", "", "write the restart count and current PID here as JSON at every start")
	return cmd
}
