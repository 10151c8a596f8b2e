package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/spf13/cobra"
)

func newTraceCmd(env Env) *cobra.Command {
	var (
		ref      = labRef{env: env}
		hosts    []string
		count    int
		duration time.Duration
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "trace [--name LAB] [--host ADDR]... [-c COUNT] [--duration D] [--json]",
		Short: "Follow packets through the lab: every route, translation and GWLB decision",
		Long: `Print, for each packet to or from one of the --host addresses (every packet
without --host), where it came in, each decision the lab took for it — the
route table and route that matched, address translations, the endpoint, the
GWLB node's flow and target, GENEVE — and how it ended: delivered to a node,
or dropped and why. Inner packets that appliances return in GENEVE are traced
too. Run it, then send traffic from another shell.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			for _, h := range hosts {
				if _, err := netip.ParseAddr(h); err != nil {
					return fmt.Errorf("--host %q is not an IP address", h)
				}
				q.Add("host", h)
			}
			if count > 0 {
				q.Set("count", strconv.Itoa(count))
			}
			if duration > 0 {
				q.Set("seconds", strconv.FormatFloat(duration.Seconds(), 'f', -1, 64))
			}
			c, n, err := ref.control(cmd)
			if err != nil {
				return err
			}
			body, err := c.Stream(cmd.Context(), "/v1/trace?"+q.Encode())
			if err != nil {
				return err
			}
			defer body.Close()
			what := "every packet"
			if len(hosts) > 0 {
				what = "packets of " + strings.Join(hosts, ", ")
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "tracing %s in lab %s\n", what, n)
			return printJSONLines(cmd, body, "trace", asJSON, func(out io.Writer, t api.Trace) {
				fmt.Fprintf(out, "%s from %s: %s\n", t.Time.Local().Format("15:04:05.000000"), t.From, t.Packet)
				for _, h := range t.Hops {
					fmt.Fprintf(out, "    %s\n", h)
				}
				fmt.Fprintf(out, "    => %s\n", t.Result)
			})
		},
	}
	ref.register(cmd.Flags())
	cmd.Flags().StringArrayVar(&hosts, "host", nil, "trace packets to or from this address (repeatable; none: every packet)")
	cmd.Flags().IntVarP(&count, "count", "c", 0, "stop after this many packets (0: no limit)")
	cmd.Flags().DurationVar(&duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each trace as a JSON line")
	return cmd
}

// printJSONLines prints a stream of JSON lines from the control socket
// until it ends or the command's context does: as they are with --json,
// else each decoded as T and written by write. what names the command in
// errors.
func printJSONLines[T any](cmd *cobra.Command, body io.Reader, what string, asJSON bool, write func(io.Writer, T)) error {
	out := cmd.OutOrStdout()
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if asJSON {
			fmt.Fprintln(out, sc.Text())
			continue
		}
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		write(out, v)
	}
	if err := sc.Err(); err != nil && cmd.Context().Err() == nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
