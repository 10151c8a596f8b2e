package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/spf13/cobra"
)

func newEventsCmd(env Env) *cobra.Command {
	var (
		ref    = labRef{env: env}
		follow bool
		asJSON bool
		since  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "events [--name LAB] [-f] [--since DUR] [--json]",
		Short: "Show what happened in the emulator: target states with reason codes, registrations, edits",
		Long: `Print the emulator's events, oldest first: its start, each GWLB node's change of a
target's health state with AWS's reason code (Elb.InitialHealthChecking,
Target.FailedHealthChecks, Target.Timeout, Target.ResponseCodeMismatch),
registrations, deregistrations (Target.DeregistrationInProgress) and the end of
their draining, health checks forced to fail, route edits, link impairments and
endpoint acceptances. Each has the wall-clock time and the lab time (which runs
faster with lab.time_scale). The emulator keeps the last 4096; an emulator
restart starts them over. -f waits for new events until interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since < 0 {
				return fmt.Errorf("--since takes a duration such as 5m")
			}
			q := api.EventsQuery{Follow: follow}
			if since > 0 {
				q.Since = time.Now().Add(-since)
			}
			c, _, err := ref.control(cmd)
			if err != nil {
				return err
			}
			body, err := c.Stream(cmd.Context(), q.Path())
			if err != nil {
				return err
			}
			defer body.Close()
			return printJSONLines(cmd, body, "events", asJSON, writeEvent)
		},
	}
	ref.register(cmd.Flags())
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "wait for new events until interrupted")
	cmd.Flags().DurationVar(&since, "since", 0, "only events of the last DUR (wall clock), such as 10m")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each event as a JSON line")
	return cmd
}

// writeEvent prints one event on one line: wall time, lab time, kind, then
// what it is about.
func writeEvent(w io.Writer, e api.Event) {
	var parts []string
	for _, p := range []struct{ k, v string }{
		{"asg", e.ASG}, {"gwlb", e.GWLB}, {"node", e.Node}, {"target", e.Target}, {"ip", e.IP}, {"state", e.State}, {"reason", e.Reason},
	} {
		if p.v != "" {
			parts = append(parts, p.k+"="+p.v)
		}
	}
	line := fmt.Sprintf("%s  lab +%-10s %-19s %s", e.Time.Local().Format("15:04:05.000"), strconv.FormatFloat(e.LabSeconds, 'f', 3, 64)+"s",
		e.Kind, strings.Join(parts, " "))
	if e.Detail != "" {
		line += "  (" + e.Detail + ")"
	}
	fmt.Fprintln(w, strings.TrimRight(line, " "))
}
