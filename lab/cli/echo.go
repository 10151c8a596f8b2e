package cli

import (
	"context"
	"fmt"
	"net"
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
		tcp     bool
	)
	cmd := &cobra.Command{
		Use:   "probe [--tcp] HOST:PORT",
		Short: "Send a UDP message to an echo server and print its answer, or open a TCP connection",
		Long: `Send a UDP message to an echo server and print its answer, sending again
every --retry until one comes or --timeout passes.

With --tcp, open a TCP connection to HOST:PORT instead (one attempt, bounded
by --timeout), print "connected" and close it: exit status 0 says the
three-way handshake completed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if tcp {
				var d net.Dialer
				c, err := d.DialContext(ctx, "tcp", args[0])
				if err != nil {
					return fmt.Errorf("tcp probe: %w", err)
				}
				c.Close()
				_, err = fmt.Fprintln(cmd.OutOrStdout(), "connected")
				return err
			}
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
	cmd.Flags().BoolVar(&tcp, "tcp", false, "open a TCP connection instead of sending UDP")
	cmd.Flags().DurationVar(&every, "retry", 500*time.Millisecond, "send again when no answer came within this long")
	return cmd
}
