package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab/echo"
	"github.com/spf13/cobra"
)

func newEchoCmd(env Env) *cobra.Command {
	var s echo.Server
	cmd := &cobra.Command{
		Use:   "echo",
		Short: "Run the HTTP and UDP echo server (what lab nodes run)",
		Long: `Run the echo server that lab nodes use: HTTP answers and UDP echoes name the
peer's address as this node saw it, so you can tell whether anything on the
path translated it. Add ?format=json to an HTTP request for JSON.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return s.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&s.HTTPAddr, "http", ":80", "HTTP listen address (empty: none)")
	cmd.Flags().StringVar(&s.UDPAddr, "udp", ":80", "UDP echo listen address (empty: none)")
	cmd.Flags().StringVar(&s.Node, "node", "", "node name to report (default: the host name)")
	return cmd
}

func newProbeCmd(env Env) *cobra.Command {
	var (
		msg     string
		timeout time.Duration
		every   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "probe HOST:PORT",
		Short: "Send a UDP message to an echo server and print its answer",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			ans, err := echo.ProbeUDP(ctx, args[0], msg, every)
			if err != nil {
				return err
			}
			_, err = fmt.Fprint(cmd.OutOrStdout(), ans)
			return err
		},
	}
	cmd.Flags().StringVar(&msg, "message", "probe", "payload to send")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	cmd.Flags().DurationVar(&every, "retry", 500*time.Millisecond, "send again when no answer came within this long")
	return cmd
}
