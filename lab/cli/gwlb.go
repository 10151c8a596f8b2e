package cli

import (
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"

	"github.com/gwlb-lab/gwlb-lab/emulator/fabric"
	"github.com/gwlb-lab/gwlb-lab/emulator/gwlb"
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

func newFlowsCmd(env Env) *cobra.Command {
	var (
		ref    = labRef{env: env}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "flows [--name LAB] [--json]",
		Short: "List the GWLB nodes' flows: key, target, cookie, outer port, age, counters",
		Long: `List the live flows of every GWLB node: the flow as its first packet named it
(initiator first), the target it is pinned to, its GENEVE flow cookie and outer
UDP source port, its age and idle time, and packets and bytes in each direction.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var flows []gwlb.Flow
			if err := controlGet(cmd, &ref, "/v1/flows", &flows); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), flows)
			}
			if len(flows) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no flows")
				return nil
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "NODE\tENDPOINT\tPROTO\tSRC\tDST\tTARGET\tCOOKIE\tOUTER-PORT\tAGE\tIDLE\tPKTS ->/<-\tBYTES ->/<-")
			for _, f := range flows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d/%d\t%d/%d\n",
					f.Node, f.Endpoint, protoName(f.Proto), f.Src, f.Dst, f.Target, f.Cookie, f.OuterPort,
					f.Age, f.Idle, f.OrigPackets, f.ReplyPackets, f.OrigBytes, f.ReplyBytes)
			}
			return tw.Flush()
		},
	}
	ref.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
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
			var eps []fabric.EndpointStatus
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
		Use:   "targets [--name LAB] [--json]",
		Short: "Show target health as each GWLB node sees it; deregister and register targets",
		Long: `Show every target of every target group as each GWLB node sees it: its state
(initial, healthy, unhealthy, draining, unused), AWS's reason code, and the last
health check. Health is decided per node, so zones can disagree (spec §4.6).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var ts []gwlb.TargetHealth
			if err := controlGet(cmd, &ref, "/v1/targets", &ts); err != nil {
				return err
			}
			return output(cmd, asJSON, ts, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NODE\tTARGET\tIP\tAZ\tSTATE\tREASON\tLAST ERROR")
				for _, t := range ts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Node, t.Target, t.IP, t.TargetAZ, t.State, dash(t.Reason), dash(t.LastError))
				}
				return tw.Flush()
			})
		},
	}
	ref.register(cmd.PersistentFlags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	for _, action := range []struct{ verb, short string }{
		{"deregister", "Deregister targets: no new flows at once, unused after the deregistration delay"},
		{"register", "Register deregistered targets again: initial until their health checks pass"},
	} {
		verb := action.verb
		cmd.AddCommand(actionCmd(&ref, verb+" TARGET...", action.short,
			"target", func(t string) string { return "/v1/targets/" + url.PathEscape(t) + "/" + verb }))
	}
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
