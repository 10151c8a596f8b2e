package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/spf13/cobra"
)

func newTGWCmd(env Env) *cobra.Command {
	var (
		ref    = labRef{env: env}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "tgw [--name LAB] [--json]",
		Short: "Show transit gateways: attachments with their counters, and route tables",
		Long: `Show each transit gateway of a lab: its attachments (VPC, associated route
table, appliance mode, interfaces by AZ) with what entered the gateway
through each (IN), what left through each (OUT) and what entering through
each was dropped (no route, blackhole, from an AZ without an attachment
subnet), all since the emulator started; then its route tables with their
associations and routes. A propagated route that a static route of the same
prefix overrides is marked inactive.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var tgws []api.TGWStatus
			if err := controlGet(cmd, &ref, "/v1/tgws", &tgws); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), tgws)
			}
			return printTGWs(cmd, tgws)
		},
	}
	ref.register(cmd.PersistentFlags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func printTGWs(cmd *cobra.Command, tgws []api.TGWStatus) error {
	out := cmd.OutOrStdout()
	if len(tgws) == 0 {
		fmt.Fprintln(out, "the lab has no transit gateway")
		return nil
	}
	for i, t := range tgws {
		if i > 0 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "transit gateway %s\n", t.Name)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ATTACHMENT\tVPC\tROUTE TABLE\tAPPLIANCE MODE\tINTERFACES\tIN PKTS\tIN BYTES\tOUT PKTS\tOUT BYTES\tDROPS")
		for _, a := range t.Attachments {
			var enis []string
			for _, e := range a.ENIs {
				addr := e.IP.String()
				if e.IP6.IsValid() {
					addr += "," + e.IP6.String()
				}
				enis = append(enis, fmt.Sprintf("%s:%s(%s)", e.AZ, addr, e.Subnet))
			}
			var drops []string
			for _, reason := range []string{"tgw_no_route", "tgw_blackhole", "tgw_no_attachment_in_az"} {
				if n := a.Drops[reason]; n > 0 {
					drops = append(drops, fmt.Sprintf("%s=%d", reason, n))
				}
			}
			mode := "off"
			if a.ApplianceMode {
				mode = "on"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", a.Name, a.VPC, orDash(a.RouteTable), mode,
				strings.Join(enis, " "), a.InPackets, a.InBytes, a.OutPackets, a.OutBytes, orDash(strings.Join(drops, " ")))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, rt := range t.RouteTables {
			fmt.Fprintf(out, "route table %s (associated: %s)\n", rt.Name, orDash(strings.Join(rt.Associations, ", ")))
			tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  DESTINATION\tTARGET\tTYPE\tSTATE")
			for _, r := range rt.Routes {
				target, kind, state := r.Attachment, "static", "active"
				if r.Blackhole {
					target = "blackhole"
				}
				if r.Propagated {
					kind = "propagated"
				}
				if !r.Active {
					state = "inactive (a static route of the same prefix wins)"
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.Destination, target, kind, state)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
