package cli

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab/echo"
	"github.com/spf13/cobra"
)

// newTrafficCmd is the traffic client that `scenario run` starts inside a
// node (through exec): it opens flows to an address and prints how each
// went, one JSON line per flow.
func newTrafficCmd(Env) *cobra.Command {
	var (
		s    echo.FlowSpec
		dest string
	)
	cmd := &cobra.Command{
		Use:    "traffic ADDRESS [--protocol P] [--port N] [--flows N] [--size B | --duration D [--interval I]] [--timeout T]",
		Short:  "Open flows to an address and print one JSON line per flow (run inside a node)",
		Hidden: true,
		Long: `traffic is what a scenario's traffic step runs in its from node: it opens
--flows flows one after the other to ADDRESS and prints, per flow, a JSON line:
local and remote address, protocol, ok or the kind of failure (refused, reset,
timeout, unreachable, error), exchanges sent and answered, bytes, seconds.
http and tcp send HTTP requests the echo server answers (tcp without --size or
--duration only opens the connection); udp sends datagrams to the echo
server's UDP port; icmp runs ping with DF set. The exit status is 0 when every
flow was answered, 1 otherwise.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dest = args[0]
			a, err := netip.ParseAddr(dest)
			if err != nil {
				return fmt.Errorf("%q is not an IP address", dest)
			}
			s.Dest = a
			enc := json.NewEncoder(cmd.OutOrStdout())
			failed := false
			err = echo.RunFlows(cmd.Context(), s, func(r echo.FlowResult) error {
				failed = failed || !r.OK
				return enc.Encode(r)
			})
			if err != nil {
				return err
			}
			if failed {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.Protocol, "protocol", "http", "http, tcp, udp or icmp")
	f.IntVar(&s.Port, "port", 80, "destination port (not for icmp)")
	f.IntVar(&s.Flows, "flows", 1, "flows to open, one after the other")
	f.IntVar(&s.Size, "size", 0, "bytes each flow carries (icmp: the echo's payload)")
	f.DurationVar(&s.Duration, "duration", 0, "keep each flow going this long")
	f.DurationVar(&s.Interval, "interval", time.Second, "with --duration: time between two exchanges")
	f.DurationVar(&s.Timeout, "timeout", 2*time.Second, "how long to wait for a connection or an answer")
	return cmd
}
