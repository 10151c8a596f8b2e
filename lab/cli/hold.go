package cli

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// newHoldCmd is the hidden command a container node's holder runs: it owns
// the node's network namespace and does nothing else, so the node's own
// container can restart without losing eth0 (see lab/backend/docker). As a
// container's first process it gets no default signal handling, so it asks
// for SIGTERM and SIGINT itself, or `docker stop` would wait out its grace.
func newHoldCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:    "hold",
		Short:  "Sleep until signalled, holding a container node's network namespace (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
			select {
			case <-sig:
			case <-cmd.Context().Done():
			}
			return nil
		},
	}
}
