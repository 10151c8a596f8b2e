package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/spf13/cobra"
)

// controlGet fetches path from the emulator of the lab ref names.
func controlGet(cmd *cobra.Command, ref *labRef, path string, out any) error {
	c, _, err := ref.control(cmd)
	if err != nil {
		return err
	}
	return c.Get(cmd.Context(), path, out)
}

// flowsOpts are the flags of `flows`.
type flowsOpts struct {
	gwlb, node, endpoint, target, proto string
	hosts                               []string
	limit, offset                       int
	count, asJSON                       bool
}

// query is the control API query for the flags; bad values are reported
// here, before the emulator is asked.
func (o *flowsOpts) query() (url.Values, error) {
	if o.limit < 0 || o.offset < 0 {
		return nil, fmt.Errorf("--limit and --offset take a count (0 or more)")
	}
	f := api.FlowFilter{GWLB: o.gwlb, Node: o.node, Endpoint: o.endpoint, Target: o.target, Hosts: o.hosts, Proto: o.proto, Offset: o.offset}
	switch {
	case o.count:
		f.Limit = new(int)
	case o.limit > 0:
		f.Limit = &o.limit
	}
	return f.Query()
}

func newFlowsCmd(env Env) *cobra.Command {
	var (
		ref  = labRef{env: env}
		opts flowsOpts
	)
	cmd := &cobra.Command{
		Use:   "flows [--name LAB] [--target T] [--host ADDR] [--limit N] [--json]",
		Short: "List the GWLB nodes' flows: key, target, cookie, outer port, age, counters",
		Long: `List the live flows of every GWLB node: the flow as its first packet named it
(initiator first), the target it is pinned to, its GENEVE flow cookie and outer
UDP source port, its age and idle time, and packets and bytes in each direction.

Flows are printed as the emulator walks its flow tables (GWLB, node, endpoint,
then table order; not sorted by age), so a large listing starts at once and
never holds the whole table in memory on either side. The filters narrow it:
--host matches either end of a flow (an address or a prefix; repeat it for
several), --target a target's name or address. --limit and --offset page
through the matching flows (pages are cut from the live tables, so flows that
start or end between two requests shift them); --count prints only how many
match. The number of matching flows is printed on stderr after the listing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := opts.query()
			if err != nil {
				return err
			}
			c, _, err := ref.control(cmd)
			if err != nil {
				return err
			}
			return listFlows(cmd.Context(), c, q, &opts, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	ref.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&opts.gwlb, "gwlb", "", "only flows of this load balancer")
	f.StringVar(&opts.node, "node", "", "only flows of this GWLB node (<gwlb>-<az>)")
	f.StringVar(&opts.endpoint, "endpoint", "", "only flows that came through this GWLB endpoint (name or vpce- id)")
	f.StringVar(&opts.target, "target", "", "only flows pinned to this target (name or address)")
	f.StringArrayVar(&opts.hosts, "host", nil, "only flows with either end at this address or in this prefix (repeatable)")
	f.StringVar(&opts.proto, "proto", "", "only flows of this protocol: tcp, udp, icmp, icmpv6 or a number")
	f.IntVar(&opts.limit, "limit", 0, "print at most this many flows (0: all)")
	f.IntVar(&opts.offset, "offset", 0, "skip this many matching flows first (with --limit, to page)")
	f.BoolVar(&opts.count, "count", false, "print only the number of matching flows")
	f.BoolVar(&opts.asJSON, "json", false, "print as a JSON array (with --count: an object)")
	return cmd
}

// listFlows streams a flow listing from the emulator to out as it arrives.
// The stream has no overall timeout: it lasts as long as the emulator has
// flows to send, and ends with the command's context.
func listFlows(ctx context.Context, c *control.Client, q url.Values, o *flowsOpts, out, errw io.Writer) error {
	body, err := c.Stream(ctx, api.PathFlows+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer body.Close()
	bw := &pacedWriter{Writer: bufio.NewWriterSize(out, 64<<10)}
	defer bw.Flush()
	var (
		each   func(api.Flow) error
		finish func() error
	)
	switch {
	case o.count:
		each = func(api.Flow) error { return nil }
	case o.asJSON:
		n := 0
		each = func(f api.Flow) error {
			b, err := json.MarshalIndent(f, "  ", "  ")
			if err != nil {
				return err
			}
			sep := ",\n  "
			if n == 0 {
				sep = "[\n  "
			}
			n++
			bw.WriteString(sep)
			bw.Write(b)
			return bw.paced()
		}
		finish = func() error {
			if n == 0 {
				_, err := bw.WriteString("[]\n")
				return err
			}
			_, err := bw.WriteString("\n]\n")
			return err
		}
	default:
		t := newStreamTable(bw, "NODE", "ENDPOINT", "PROTO", "SRC", "DST", "TARGET", "COOKIE", "OUTER-PORT", "AGE", "IDLE", "PKTS ->/<-", "BYTES ->/<-")
		each = func(f api.Flow) error {
			return t.row(f.Node, f.Endpoint, protoName(f.Proto), f.Src, f.Dst, f.Target, f.Cookie, strconv.Itoa(int(f.OuterPort)),
				f.Age, f.Idle, fmt.Sprintf("%d/%d", f.OrigPackets, f.ReplyPackets), fmt.Sprintf("%d/%d", f.OrigBytes, f.ReplyBytes))
		}
		finish = t.flush
	}
	sum, err := api.ReadFlows(body, each)
	if err != nil {
		return err
	}
	if finish != nil {
		if err := finish(); err != nil {
			return err
		}
	}
	if o.count {
		if o.asJSON {
			return writeJSON(bw, map[string]int{"matched": sum.Matched})
		}
		_, err := fmt.Fprintln(bw, sum.Matched)
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	switch {
	case sum.Matched == 0 && !o.asJSON:
		fmt.Fprintln(errw, "no flows")
	case sum.Listed < sum.Matched:
		fmt.Fprintf(errw, "%d of %d matching flows listed (--offset %d, --limit %d)\n", sum.Listed, sum.Matched, sum.Offset, sum.Limit)
	case !o.asJSON:
		fmt.Fprintf(errw, "%d flows\n", sum.Matched)
	}
	return nil
}

// pacedWriter shows output as it arrives without a write per row: it
// flushes the first row at once, then at most every flushEvery.
type pacedWriter struct {
	*bufio.Writer
	last time.Time
}

const flushEvery = 100 * time.Millisecond

func (w *pacedWriter) paced() error {
	if now := time.Now(); w.last.IsZero() || now.Sub(w.last) >= flushEvery {
		w.last = now
		return w.Flush()
	}
	return nil
}

// streamTable prints rows in aligned columns without holding them all: the
// first rows set the widths (tabwriter would buffer the whole listing), and
// a later, wider cell widens its column from there on.
type streamTable struct {
	w      *pacedWriter
	widths []int
	held   [][]string // rows before the widths are set
}

// streamTableHold is how many rows set the columns' widths.
const streamTableHold = 256

func newStreamTable(w *pacedWriter, header ...string) *streamTable {
	return &streamTable{w: w, held: [][]string{header}}
}

func (t *streamTable) row(cells ...string) error {
	if t.held != nil {
		t.held = append(t.held, cells)
		if len(t.held) <= streamTableHold {
			return nil
		}
		return t.flush()
	}
	t.write(cells)
	return t.w.paced()
}

// flush prints the rows held so far and streams every later row.
func (t *streamTable) flush() error {
	if t.held == nil {
		return nil
	}
	for _, r := range t.held {
		for i, c := range r {
			if i == len(t.widths) {
				t.widths = append(t.widths, 0)
			}
			t.widths[i] = max(t.widths[i], len(c))
		}
	}
	for _, r := range t.held {
		t.write(r)
	}
	t.held = nil
	return t.w.paced()
}

func (t *streamTable) write(cells []string) {
	for i, c := range cells {
		if i == len(cells)-1 {
			t.w.WriteString(c)
			break
		}
		t.widths[i] = max(t.widths[i], len(c))
		t.w.WriteString(c)
		t.w.WriteString(strings.Repeat(" ", t.widths[i]-len(c)+2))
	}
	t.w.WriteByte('\n')
}

func protoName(p uint8) string {
	switch p {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmpv6"
	}
	return fmt.Sprint(p)
}

func newEndpointsCmd(env Env) *cobra.Command {
	var (
		ref    = labRef{env: env}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "endpoints [--name LAB] [--json]",
		Short: "List GWLB endpoints and their state; accept pending ones",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var eps []api.Endpoint
			if err := controlGet(cmd, &ref, "/v1/endpoints", &eps); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), eps)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ENDPOINT\tID\tSUBNET\tAZ\tSERVICE\tGWLB NODE\tSTATE")
			for _, e := range eps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.ID, e.Subnet, e.AZ, e.Service, e.Node, e.State)
			}
			return tw.Flush()
		},
	}
	ref.register(cmd.PersistentFlags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	cmd.AddCommand(actionCmd(&ref, "accept ENDPOINT...", "Accept endpoint connections of a service that requires acceptance",
		"endpoint", func(ep string) string { return "/v1/endpoints/" + url.PathEscape(ep) + "/accept" }))
	return cmd
}

func newTargetsCmd(env Env) *cobra.Command {
	var (
		ref    = labRef{env: env}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:     "targets [--name LAB] [--json]",
		Aliases: []string{"target"},
		Short:   "Show target health as each GWLB node sees it; deregister, register, fail health checks",
		Long: `Show every target of every target group as each GWLB node sees it: its state
(initial, healthy, unhealthy, draining, unused), AWS's reason code, and the last
health check. Health is decided per node, so zones can disagree (spec §4.6).
A state marked [forced] is a target whose checks from that node fail-health
forces to fail.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ts []api.TargetHealth
			if err := controlGet(cmd, &ref, "/v1/targets", &ts); err != nil {
				return err
			}
			return output(cmd, asJSON, ts, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NODE\tTARGET\tIP\tAZ\tSTATE\tREASON\tLAST ERROR")
				for _, t := range ts {
					state := t.State
					if t.ForcedFailure {
						state += " [forced]"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Node, t.Target, t.IP, t.TargetAZ, state, dash(t.Reason), dash(t.LastError))
				}
				return tw.Flush()
			})
		},
	}
	ref.register(cmd.PersistentFlags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	for _, action := range []struct{ verb, short, long string }{
		{"deregister", "Deregister targets: no new flows at once, unused after the deregistration delay",
			`Deregister each TARGET (a node name or address) from every target group that has
it, or from the target group of --gwlb: it gets no new flow at once, its flows
drain, and it is unused once the deregistration delay has passed (spec §4.5).`},
		{"register", "Register any instance of the lab as a target: initial until its health checks pass",
			`Register each TARGET (an instance's node name or address; with target type ip, its
address) in the target group of --gwlb, which may be left out when the lab has
one GWLB. A target the group already has is registered again; any other
instance of the GWLB's VPC (with target type ip, of any VPC of the lab) joins
the group. Either way it starts initial and
gets no new flow before its health checks pass (spec §4.2). GWLB nodes,
endpoints and internet hosts cannot be targets. Registrations outlive
'emulator restart' (runtime-edits.json), not the lab.`},
	} {
		cmd.AddCommand(targetVerbCmd(&ref, action.verb, action.short, action.long))
	}
	cmd.AddCommand(healthCmds(&ref)...)
	return cmd
}

// targetVerbCmd is `targets register|deregister TARGET... [--gwlb NAME]`.
func targetVerbCmd(ref *labRef, verb, short, long string) *cobra.Command {
	var lb string
	cmd := &cobra.Command{
		Use:   verb + " TARGET... [--gwlb NAME]",
		Short: short,
		Long:  long,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := ref.control(cmd)
			if err != nil {
				return err
			}
			for _, arg := range args {
				var out api.TargetChange
				if err := c.Post(cmd.Context(), api.TargetPath(arg, verb)+api.RegisterQuery(lb), nil, &out); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "target %s: %s\n", arg, out.State)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&lb, "gwlb", "", "the GWLB whose target group to change (register: may be left out when the lab has one)")
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// actionCmd is a subcommand that asks the emulator to act on each of its
// arguments (a POST to path(arg)) and prints the resulting state.
func actionCmd(ref *labRef, use, short, noun string, path func(arg string) string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := ref.control(cmd)
			if err != nil {
				return err
			}
			for _, arg := range args {
				var out map[string]string
				if err := c.Post(cmd.Context(), path(arg), nil, &out); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s: %s\n", noun, arg, out["state"])
			}
			return nil
		},
	}
}
