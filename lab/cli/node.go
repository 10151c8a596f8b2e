package cli

import (
	"context"
	"fmt"

	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/spf13/cobra"
)

// newNodeCmd groups the verbs that act on one node's program and leave its
// links alone.
func newNodeCmd(env Env) *cobra.Command {
	ref := labRef{env: env}
	cmd := &cobra.Command{
		Use:   "node add|remove|stop|start|restart|pause|unpause NODE [--name LAB]",
		Short: "Add or remove a node of a running lab; stop, start, restart, pause or unpause a node's program",
		Long: `add and remove add a node (an instance with one ENI) to a running lab and take
it away again; see 'gwlb-lab node add --help'.

The other verbs act on the program a node runs, as an operator acts on an appliance: the node's
namespace, eth0, addresses and routes stay, and so does the emulator's side of
its link, so the program started again carries traffic at once. A stopped or
paused appliance stops answering health checks: its target goes unhealthy, and
healthy again once it answers. pause freezes the program with the cgroup
freezer (SIGSTOP of its process group where the lab has no cgroup).

On a container node the verbs act on the node's own container, as docker stop,
start, pause and unpause do; the holder container, which owns the namespace and
eth0, stays, so the container started again finds its link as it was.`,
	}
	for _, v := range []struct {
		verb, short, done string
		act               func(*lab.Manager, context.Context, string, string) error
	}{
		{"stop", "Stop a node's program (and everything it started)", "stopped", (*lab.Manager).NodeStop},
		{"start", "Start a stopped node's program again, as up did", "started", (*lab.Manager).NodeStart},
		{"restart", "Stop a node's program and start it again", "restarted", (*lab.Manager).NodeRestart},
		{"pause", "Freeze a node's program", "paused", (*lab.Manager).NodePause},
		{"unpause", "Thaw a paused node's program", "unpaused", (*lab.Manager).NodeUnpause},
	} {
		sub := &cobra.Command{
			Use:   v.verb + " NODE [--name LAB]",
			Short: v.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				m, name, err := ref.open(cmd)
				if err != nil {
					return err
				}
				if err := v.act(m, cmd.Context(), name, args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "node %s %s\n", args[0], v.done)
				return nil
			},
		}
		ref.register(sub.Flags())
		cmd.AddCommand(sub)
	}
	cmd.AddCommand(newNodeAddCmd(env), newNodeRemoveCmd(env))
	return cmd
}
