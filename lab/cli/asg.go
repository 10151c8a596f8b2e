package cli

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/spf13/cobra"
)

// newASGCmd is `gwlb-lab asg`: the lab's Auto Scaling groups (spec §13),
// run by the emulator.
func newASGCmd(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "asg",
		Short: "Auto Scaling groups: describe, set-desired, complete-lifecycle-action",
		Long: `The lab's Auto Scaling groups (autoscaling_groups in the topology file). The
emulator runs them on the lab clock: it launches instances (nodes named
<group>-<n>) into the AZ with the fewest, registers them in their target groups
once InService, replaces unhealthy ones after the grace period, drains and
terminates on scale in, and follows a target tracking policy if the group has
one. gwlb-lab events shows what it did and why.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newASGDescribeCmd(env), newASGSetDesiredCmd(env), newASGLifecycleCmd(env))
	return cmd
}

func newASGDescribeCmd(env Env) *cobra.Command {
	var (
		ref    = labRef{env: env}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "describe [GROUP] [--name LAB] [--json]",
		Short: "Show groups: capacity, instances with AZ, lifecycle state and target health, policy",
		Long: `Show each Auto Scaling group (or the one named): min, desired and max; every
instance not yet terminated with its subnet and AZ, address, lifecycle state
(Pending, Pending:Wait, InService, Terminating, Terminating:Wait, ...), the
group's health verdict, its state in each target group and the lifecycle hooks
it waits for; the last instances terminated; and the target tracking policy's
last datapoint and alarm counts.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var gs []api.ASG
			if err := controlGet(cmd, &ref, api.PathASGs, &gs); err != nil {
				return err
			}
			if len(args) == 1 {
				var names []string
				for _, g := range gs {
					names = append(names, g.Name)
				}
				gs = slices.DeleteFunc(gs, func(g api.ASG) bool { return g.Name != args[0] })
				if len(gs) == 0 {
					return fmt.Errorf("no auto scaling group %q; the lab's groups: %s", args[0], orDash(strings.Join(names, ", ")))
				}
			}
			return output(cmd, asJSON, gs, func(w io.Writer) error { return printASGs(w, gs) })
		},
	}
	ref.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func newASGSetDesiredCmd(env Env) *cobra.Command {
	var (
		ref    = labRef{env: env}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "set-desired GROUP N [--name LAB] [--json]",
		Short: "Set a group's desired capacity (between its min and max)",
		Long: `Set a group's desired capacity, as SetDesiredCapacity does. The emulator then
launches instances into the AZs with the fewest, or scales in from the AZ with
the most (oldest instance first): each is deregistered, drains for its target
group's deregistration delay, passes its terminating lifecycle hooks and is
terminated. The command returns at once; gwlb-lab asg describe and
gwlb-lab events -f follow the instances.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil || n < 0 {
				return fmt.Errorf("desired capacity %q is not a count (0 or more)", args[1])
			}
			cl, _, err := ref.control(cmd)
			if err != nil {
				return err
			}
			var g api.ASG
			if err := cl.Post(cmd.Context(), api.ASGPath(args[0], "desired"), api.DesiredRequest{Desired: n}, &g); err != nil {
				return err
			}
			return output(cmd, asJSON, g, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "%s: desired %d (min %d, max %d)\n", g.Name, g.Desired, g.Min, g.Max)
				return err
			})
		},
	}
	ref.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the group as JSON")
	return cmd
}

func newASGLifecycleCmd(env Env) *cobra.Command {
	var (
		ref          = labRef{env: env}
		hook, result string
		asJSON       bool
	)
	cmd := &cobra.Command{
		Use:   "complete-lifecycle-action GROUP INSTANCE --hook HOOK --result CONTINUE|ABANDON [--name LAB]",
		Short: "End an instance's wait on a lifecycle hook",
		Long: `End an instance's wait in Pending:Wait or Terminating:Wait on one lifecycle hook,
as CompleteLifecycleAction does. CONTINUE: once no hook is left, a launching
instance is registered and goes InService, a terminating one is terminated.
ABANDON: a launching instance is terminated (and another launched); a
terminating one is terminated at once. Without it, each hook's default result
applies at its heartbeat timeout.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if hook == "" {
				return fmt.Errorf("--hook is required: the lifecycle hook the instance waits for (gwlb-lab asg describe shows them)")
			}
			r := strings.ToUpper(result)
			if r != "CONTINUE" && r != "ABANDON" {
				return fmt.Errorf("--result %q: say CONTINUE or ABANDON", result)
			}
			cl, _, err := ref.control(cmd)
			if err != nil {
				return err
			}
			var g api.ASG
			req := api.LifecycleActionRequest{Instance: args[1], Hook: hook, Result: r}
			if err := cl.Post(cmd.Context(), api.ASGPath(args[0], "lifecycle-action"), req, &g); err != nil {
				return err
			}
			return output(cmd, asJSON, g, func(w io.Writer) error {
				_, err := fmt.Fprintf(w, "%s: hook %s of %s completed with %s\n", g.Name, hook, args[1], r)
				return err
			})
		},
	}
	ref.register(cmd.Flags())
	cmd.Flags().StringVar(&hook, "hook", "", "the lifecycle hook (required)")
	cmd.Flags().StringVar(&result, "result", "", "CONTINUE or ABANDON (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the group as JSON")
	return cmd
}

// printASGs writes the groups as text.
func printASGs(w io.Writer, gs []api.ASG) error {
	if len(gs) == 0 {
		_, err := fmt.Fprintln(w, "the lab has no auto scaling group")
		return err
	}
	for i, g := range gs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "group %s (vpc %s): desired %d, min %d, max %d; health check %s, grace %ds; target groups %s\n",
			g.Name, g.VPC, g.Desired, g.Min, g.Max, g.HealthCheckType, g.HealthCheckGracePeriod, orDash(strings.Join(g.TargetGroups, ", ")))
		if p := g.Policy; p != nil {
			scaleIn := "on"
			if p.DisableScaleIn {
				scaleIn = "disabled"
			}
			fmt.Fprintf(w, "policy: %s target %g, last datapoint %.4g, %d/3 high, %d/15 low; scale in %s\n",
				p.Metric, p.TargetValue, p.Value, p.HighPoints, p.LowPoints, scaleIn)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "INSTANCE\tAZ\tSUBNET\tIP\tSTATE\tHEALTH\tTARGETS\tWAITING FOR\tREASON")
		rows := append(slices.Clone(g.Instances), g.Terminated...)
		for _, in := range rows {
			var targets []string
			for _, tg := range slices.Sorted(maps.Keys(in.Targets)) {
				targets = append(targets, tg+"="+in.Targets[tg])
			}
			var hooks []string
			for _, h := range in.WaitingHooks {
				hooks = append(hooks, fmt.Sprintf("%s (%s at lab %s)", h.Hook, h.Default, h.Deadline.UTC().Format(time.TimeOnly)))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", in.Name, in.AZ, in.Subnet, orDash(in.IP), in.State, in.Health,
				orDash(strings.Join(targets, " ")), orDash(strings.Join(hooks, ", ")), orDash(in.Reason))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
