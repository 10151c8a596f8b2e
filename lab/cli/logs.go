package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/spf13/cobra"
)

func newLogsCmd(env Env) *cobra.Command {
	var (
		ref    = labRef{env: env}
		follow bool
	)
	cmd := &cobra.Command{
		Use:   "logs [--name LAB] [-f] NODE|emulator",
		Short: "Print what a node's program (or the emulator) wrote to its log",
		Long: `Print the log of a node's program — the echo server, the appliance, your
command — or of the lab's emulator. With -f, keep printing what is appended
until Ctrl-C. The files live in /run/gwlb-lab/<lab>/ (logs/<node>.log and
emulator.log); a container node's output is Docker's, and is printed from
there (as docker logs does).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, n, err := ref.open(cmd)
			if err != nil {
				return err
			}
			p, err := m.Paths(n)
			if err != nil {
				return err
			}
			path := p.EmulatorLog()
			if args[0] != "emulator" {
				// Only a node of the lab: the name becomes a path.
				_, ok, err := m.Node(n, args[0])
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("lab %q has no node %q (or say emulator)", n, args[0])
				}
				err = m.ContainerLogs(cmd.Context(), n, args[0], follow, cmd.OutOrStdout(), cmd.ErrOrStderr())
				if !errors.Is(err, lab.ErrNotContainer) {
					return err
				}
				path = p.NodeLog(args[0])
			}
			f, err := os.Open(path)
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%s has no log: it runs no program", args[0])
			}
			if err != nil {
				return err
			}
			defer f.Close()
			out := cmd.OutOrStdout()
			if _, err := io.Copy(out, f); err != nil {
				return err
			}
			for follow {
				select {
				case <-cmd.Context().Done():
					return nil
				case <-time.After(200 * time.Millisecond):
				}
				if _, err := io.Copy(out, f); err != nil {
					return err
				}
			}
			return nil
		},
	}
	ref.register(cmd.Flags())
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing what is appended")
	return cmd
}
