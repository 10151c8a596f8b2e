package cli

import (
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/spf13/cobra"
)

// lostOnRestart ends the help of every runtime edit: how long edits last.
const lostOnRestart = `Runtime edits last until changed or cleared. The emulator keeps them in the lab's
state (/run/gwlb-lab/<lab>/runtime-edits.json), so ` + "`gwlb-lab emulator restart`" + ` applies
them again; down removes them with the lab, and up starts from the topology
file alone.`

func newLinkCmd(env Env) *cobra.Command {
	ref := labRef{env: env}
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Impair a node's link at run time: down, loss, delay and jitter",
		Long: `Impair the link of a node (its eth0, as the emulator sees it) while the lab runs.
The emulator does it itself, so no netem is needed in the kernel:

  down    every frame to and from the node is dropped (drop reason link_down)
  loss    a frame delivered to the node is lost with this chance, in percent,
          0 to 100, fractions allowed (link_loss)
  delay   a frame delivered to the node is held this long, give or take a
          uniformly drawn jitter; frames keep their order (a frame never
          leaves before the one ahead of it), and a link holds at most 1024
          frames: more are dropped (link_queue_full)

Loss and delay apply to what the node receives, not to what it sends: to impair
both directions of a conversation, impair both ends. Delay and jitter are lab
time, as every emulator timer (lab.time_scale 10 makes a 100ms delay last
10 ms); the delay is at most 1m, the jitter at most the delay.

` + lostOnRestart,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}

	var (
		down, up, asJSON bool
		loss             float64
		delay, jitter    time.Duration
	)
	set := &cobra.Command{
		Use:   "set NODE [--down|--up] [--loss PCT] [--delay DUR [--jitter DUR]]",
		Short: "Change a node's link impairment; flags not given keep their value",
		Long: `Change the impairment of NODE's link. Only the flags given change: --loss 5 on
a delayed link keeps the delay. --up takes a link that is down up again (its
loss and delay stay); --loss 0 and --delay 0 remove them (with the delay goes
its jitter); ` + "`link clear`" + ` removes everything. The jitter is at most the delay.

` + lostOnRestart,
		Example: `  gwlb-lab link set web --loss 20
  gwlb-lab link set fw-1 --delay 50ms --jitter 10ms
  gwlb-lab link set fw-1 --down`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			if down && up {
				return fmt.Errorf("--down and --up contradict each other: give one")
			}
			if !(f.Changed("down") || f.Changed("up") || f.Changed("loss") || f.Changed("delay") || f.Changed("jitter")) {
				return fmt.Errorf("nothing to set: give --down, --up, --loss, --delay or --jitter (link clear %s removes every impairment)", args[0])
			}
			if loss < 0 || loss > 100 {
				return fmt.Errorf("--loss must be a percentage from 0 to 100, got %v", loss)
			}
			var change api.LinkChange
			switch {
			case down:
				change.Down = &down
			case up:
				change.Down = new(bool)
			}
			if f.Changed("loss") {
				change.LossPercent = &loss
			}
			if f.Changed("delay") {
				d := durationSetting(delay)
				change.Delay = &d
			}
			if f.Changed("jitter") {
				j := durationSetting(jitter)
				change.Jitter = &j
			}
			c, _, err := ref.control(cmd)
			if err != nil {
				return err
			}
			var l api.Link
			if err := c.Patch(cmd.Context(), "/v1/links/"+url.PathEscape(args[0]), change, &l); err != nil {
				return err
			}
			return output(cmd, asJSON, l, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "link %s: %s\n", l.Node, describeLink(l.LinkSettings))
				return err
			})
		},
	}
	sf := set.Flags()
	sf.BoolVar(&down, "down", false, "take the link down: drop every frame to and from the node")
	sf.BoolVar(&up, "up", false, "bring a link that is down up again")
	sf.Float64Var(&loss, "loss", 0, "percent of the frames delivered to the node to lose (0 to 100)")
	sf.DurationVar(&delay, "delay", 0, "hold each frame delivered to the node this long (lab time, such as 40ms)")
	sf.DurationVar(&jitter, "jitter", 0, "vary the delay by up to this much either way, uniformly (at most the delay)")
	sf.BoolVar(&asJSON, "json", false, "print the link as JSON")

	var clearJSON bool
	clear := &cobra.Command{
		Use:   "clear NODE...",
		Short: "Remove every impairment of nodes' links",
		Long: `Remove every impairment of each NODE's link. Frames a delay holds still leave at
their time.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, err := ref.control(cmd)
			if err != nil {
				return err
			}
			var out []api.Link
			for _, n := range args {
				var l api.Link
				if err := c.Delete(cmd.Context(), "/v1/links/"+url.PathEscape(n), &l); err != nil {
					return err
				}
				out = append(out, l)
			}
			return output(cmd, clearJSON, out, func(w io.Writer) error {
				for _, l := range out {
					fmt.Fprintf(w, "link %s: %s\n", l.Node, describeLink(l.LinkSettings))
				}
				return nil
			})
		},
	}
	clear.Flags().BoolVar(&clearJSON, "json", false, "print the links as JSON")

	var showJSON bool
	show := &cobra.Command{
		Use:   "show [NODE...] [--json]",
		Short: "Show the nodes' link impairments and what they dropped and delayed",
		Long: `Show each node's link: its impairment (state, loss, delay, jitter), the frames
it dropped by reason (link_down, link_loss, link_queue_full) and delayed since the
emulator started, and the frames its delay holds now. Without NODE, every node.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var links []api.Link
			if err := controlGet(cmd, &ref, "/v1/links", &links); err != nil {
				return err
			}
			if len(args) > 0 {
				byNode := map[string]api.Link{}
				for _, l := range links {
					byNode[l.Node] = l
				}
				links = links[:0]
				for _, n := range args {
					l, ok := byNode[n]
					if !ok {
						return fmt.Errorf("node %q: not found (gwlb-lab nodes lists them)", n)
					}
					links = append(links, l)
				}
			}
			return output(cmd, showJSON, links, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NODE\tLINK\tLOSS\tDELAY\tJITTER\tLINK_DOWN\tLINK_LOSS\tQUEUE_FULL\tDELAYED\tQUEUED")
				for _, l := range links {
					state := "up"
					if l.Down {
						state = "down"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\n", l.Node, state, percent(l.LossPercent),
						dash(l.Delay), dash(l.Jitter), l.Dropped.Down, l.Dropped.Loss, l.Dropped.QueueFull, l.Delayed, l.Queued)
				}
				return tw.Flush()
			})
		},
	}
	show.Flags().BoolVar(&showJSON, "json", false, "print as JSON")
	for _, c := range []*cobra.Command{set, clear, show} {
		ref.register(c.Flags())
		cmd.AddCommand(c)
	}
	return cmd
}

func durationSetting(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func percent(p float64) string {
	if p == 0 {
		return "-"
	}
	return strconv.FormatFloat(p, 'f', -1, 64) + "%"
}

// describeLink says in words what a link's setting does.
func describeLink(s api.LinkSettings) string {
	var parts []string
	if s.Down {
		parts = append(parts, "down")
	}
	if s.LossPercent > 0 {
		parts = append(parts, "loss "+percent(s.LossPercent))
	}
	if s.Delay != "" {
		d := "delay " + s.Delay
		if s.Jitter != "" {
			d += " ± " + s.Jitter
		}
		parts = append(parts, d)
	}
	if len(parts) == 0 {
		return "no impairment"
	}
	return strings.Join(parts, ", ")
}

// printImpairedLinks lists the nodes whose link is impaired (link set), so
// that status explains the drops they cause.
func printImpairedLinks(w io.Writer, ports []api.PortCounters) {
	var out []string
	for _, p := range ports {
		if l := p.Link; l != nil {
			s := api.LinkSettings{Down: l.Down, LossPercent: l.LossPercent, Delay: l.Delay, Jitter: l.Jitter}
			out = append(out, fmt.Sprintf("%s (%s)", p.Node, describeLink(s)))
		}
	}
	if len(out) > 0 {
		fmt.Fprintf(w, "impaired links: %s\n", strings.Join(out, ", "))
	}
}

// healthCmds are the targets subcommands that force health checks to
// fail and clear that.
func healthCmds(ref *labRef) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range []struct {
		use, short, long string
		fail             bool
	}{
		{"fail-health TARGET... [--gwlb GWLB] [--node GWLB_NODE]", "Force a target's health checks to fail until cleared",
			`Force every health check of each TARGET (a name or an address; GWLB/TARGET, or
--gwlb, for a target registered with several GWLBs) to fail, from every GWLB
node that checks it, or from --node alone: the node stops probing it and
counts a failure each interval, so the target turns unhealthy after the target
group's unhealthy_threshold failed checks, exactly as when the appliance stops
answering (spec §4), and target_failover decides what happens to its flows.
` + "`targets`" + ` shows FORCED against it until ` + "`targets clear-health`" + `.

` + lostOnRestart, true},
		{"clear-health TARGET... [--gwlb GWLB] [--node GWLB_NODE]", "Let a target's health checks probe it again",
			`Undo fail-health: the GWLB nodes probe each TARGET again, and it turns healthy
after healthy_threshold answered checks.`, false},
	} {
		var node, lb string
		fail := c.fail
		cmd := &cobra.Command{
			Use:   c.use,
			Short: c.short,
			Long:  c.long,
			Args:  cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				cl, _, err := ref.control(cmd)
				if err != nil {
					return err
				}
				for _, t := range args {
					in := api.HealthOverride{Fail: fail, GWLB: lb, Node: node}
					target := t
					if g, name, ok := strings.Cut(t, "/"); ok {
						in.GWLB, target = g, name
					}
					var res api.HealthOverrideResult
					if err := cl.Put(cmd.Context(), "/v1/targets/"+url.PathEscape(target)+"/health", in, &res); err != nil {
						return err
					}
					what := "health checks forced to fail"
					if !fail {
						what = "health checks probe it again"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "target %s: %s on %s\n", t, what, strings.Join(res.Nodes, ", "))
				}
				return nil
			},
		}
		cmd.Flags().StringVar(&node, "node", "", "only on this GWLB node (<gwlb>-<az>; default: every node that checks the target)")
		cmd.Flags().StringVar(&lb, "gwlb", "", "only on the nodes of this GWLB (for a target registered with several)")
		out = append(out, cmd)
	}
	return out
}

func newRouteCmd(env Env) *cobra.Command {
	ref := labRef{env: env}
	cmd := &cobra.Command{
		Use:   "route",
		Short: "Show and edit route tables at run time",
		Long: `Show the lab's route tables and add, replace or delete routes while the lab runs,
as CreateRoute, ReplaceRoute and DeleteRoute do on AWS. An edit is checked as the
topology file's routes are (the target exists in the table's VPC, the
destination is a CIDR of a family the VPC has, gateway route table and
more-specific-route rules, spec §6.2) and refused with the reason otherwise.
The emulator then swaps its configuration at once: new packets take the new
routes, and established flows (GWLB flows, NAT gateway connections) that still
route keep their appliance, cookie and translation.

A table is named as in the topology file; when several VPCs have a table of
that name, write VPC/TABLE or add --vpc. The VPC CIDR's local route can be replaced
(with a GWLB endpoint or an instance) and restored (replace ... local), not
deleted.

` + lostOnRestart,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	for _, op := range []struct {
		verb, use, short string
		args             cobra.PositionalArgs
	}{
		{api.RouteAdd, "add --table T [--vpc V] DEST TARGET", "Add a route for a destination the table does not route yet", cobra.ExactArgs(2)},
		{api.RouteReplace, "replace --table T [--vpc V] DEST TARGET", "Send a destination the table routes to another target", cobra.ExactArgs(2)},
		{api.RouteDelete, "delete --table T [--vpc V] DEST [TARGET]", "Delete a route (with TARGET: only if it goes there)", cobra.RangeArgs(1, 2)},
	} {
		var (
			table, vpc string
			asJSON     bool
		)
		verb := op.verb
		c := &cobra.Command{
			Use:   op.use,
			Short: op.short,
			Long: op.short + `. DEST is a CIDR (0.0.0.0/0, 10.0.1.0/24, ::/0); TARGET is local,
blackhole, or the name of the VPC's internet gateway, or of one of its NAT
gateways, GWLB endpoints or instances. Prints the table as it then is.

` + lostOnRestart,
			Example: "  gwlb-lab route " + verb + " --table app 0.0.0.0/0 igw-consumer",
			Args:    op.args,
			RunE: func(cmd *cobra.Command, args []string) error {
				if table == "" {
					return fmt.Errorf("--table is required: the route table to edit (gwlb-lab route show lists them)")
				}
				e := api.RouteEdit{Op: verb, VPC: vpc, Destination: args[0]}
				name := table
				if v, t, ok := strings.Cut(table, "/"); ok {
					e.VPC, name = v, t
				}
				if len(args) > 1 {
					e.Target = args[1]
				}
				cl, _, err := ref.control(cmd)
				if err != nil {
					return err
				}
				var t api.RouteTable
				if err := cl.Post(cmd.Context(), "/v1/routes/"+url.PathEscape(name), e, &t); err != nil {
					return err
				}
				return output(cmd, asJSON, t, func(w io.Writer) error { return printTables(w, []api.RouteTable{t}) })
			},
		}
		c.Flags().StringVar(&table, "table", "", "the route table to edit (required; VPC/TABLE when several VPCs have one of that name)")
		c.Flags().StringVar(&vpc, "vpc", "", "the table's vpc, when several have a table of that name")
		c.Flags().BoolVar(&asJSON, "json", false, "print the table as JSON")
		ref.register(c.Flags())
		cmd.AddCommand(c)
	}
	var (
		table, vpc string
		asJSON     bool
	)
	show := &cobra.Command{
		Use:   "show [--table T] [--vpc V] [--json]",
		Short: "Show the route tables as the emulator runs them, runtime edits included",
		Long: `Show the route tables the emulator runs: each table's VPC, its subnets or its
edge association, and its routes with their targets, the implicit local routes
included (marked implicit).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var tables []api.RouteTable
			if err := controlGet(cmd, &ref, "/v1/routes", &tables); err != nil {
				return err
			}
			var out []api.RouteTable
			name, v := table, vpc
			if vv, t, ok := strings.Cut(table, "/"); ok {
				v, name = vv, t
			}
			for _, t := range tables {
				if (name == "" || t.Name == name) && (v == "" || t.VPC == v) {
					out = append(out, t)
				}
			}
			if len(out) == 0 && (table != "" || vpc != "") {
				return fmt.Errorf("no route table matches --table %q --vpc %q (gwlb-lab route show lists them all)", table, vpc)
			}
			return output(cmd, asJSON, out, func(w io.Writer) error { return printTables(w, out) })
		},
	}
	show.Flags().StringVar(&table, "table", "", "only this route table")
	show.Flags().StringVar(&vpc, "vpc", "", "only the tables of this vpc")
	show.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	ref.register(show.Flags())
	cmd.AddCommand(show)
	return cmd
}

func printTables(w io.Writer, tables []api.RouteTable) error {
	for i, t := range tables {
		if i > 0 {
			fmt.Fprintln(w)
		}
		assoc := "subnets " + strings.Join(t.Subnets, ", ")
		switch {
		case t.EdgeAssociation != "":
			assoc = "edge association " + t.EdgeAssociation
		case len(t.Subnets) == 0:
			assoc = "no subnets"
		}
		fmt.Fprintf(w, "route table %s (vpc %s, %s)\n", t.Name, t.VPC, assoc)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  DESTINATION\tTARGET\tKIND")
		for _, r := range t.Routes {
			kind := r.Kind
			if r.Implicit {
				kind += " (implicit)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Destination, r.Target, kind)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
