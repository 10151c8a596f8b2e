package cli

import (
	"fmt"
	"os"

	"github.com/gwlb-lab/gwlb-lab/lab/runner"
	"github.com/spf13/cobra"
)

func newScenarioRunCmd(env Env) *cobra.Command {
	var (
		asJSON bool
		junit  string
		keep   bool
		name   string
	)
	cmd := &cobra.Command{
		Use:   "run FILE... [--json] [--junit FILE] [--keep] [--name LAB]",
		Short: "Run scenario files against labs and report every expectation",
		Long: `run runs each scenario file in turn: it validates the file (as scenario
validate does), brings its lab up under a random name (sc-xxxxxx; --name picks
one), runs the steps in order and judges every expectation, then removes the
lab, also when a step fails or on Ctrl-C (--keep leaves it up for a look).
Progress goes to stderr, the report to stdout: per step, a table of what each
expectation expected and what was observed; under each mismatch its evidence:
for traffic that was not answered (or was, against the expectation) each
flow's packets as the emulator traced them (route tables, endpoint, GWLB node
and zone, target, the drop reason) and the drop counters that moved; for
traverses, bypasses, symmetric and one_target the GWLB's flow table entries
and the appliance's flow log lines.

A fault or route edit this build cannot do, or a program the lab needs that is
not installed, is reported as an error of that step (with "not supported"),
never as a pass.

Exit status: 0 every expectation of every file held; 1 an expectation did not
hold, or a step could not be done; 2 a file is invalid or its lab could not
come up. --json prints one JSON document with every file, step, expectation,
observation and evidence; --junit FILE writes JUnit XML (one testsuite per
file, one testcase per expectation). docs/scenarios.md, "Running scenarios",
says more. Needs root.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkNameFlag(cmd, name); err != nil {
				return err
			}
			if name != "" && len(args) > 1 {
				return fmt.Errorf("--name names one lab: run one file with it, or leave it out (each file gets a random lab name)")
			}
			if err := needRoot("gwlb-lab scenario run"); err != nil {
				return err
			}
			m, err := newManager(env, cmd, true)
			if err != nil {
				return err
			}
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			r := &runner.Runner{Launcher: runner.ManagerLauncher{M: m}, LabName: name, Keep: keep,
				Progress: cmd.ErrOrStderr(), Binary: exe}
			rep := r.Run(cmd.Context(), args)
			out := cmd.OutOrStdout()
			if asJSON {
				err = rep.WriteJSON(out)
			} else {
				err = rep.WriteText(out)
			}
			if err != nil {
				return err
			}
			if junit != "" {
				f, err := os.Create(junit)
				if err != nil {
					return err
				}
				if err := rep.WriteJUnit(f); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
			}
			if rep.ExitCode != 0 {
				return &ExitError{Code: rep.ExitCode}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON document")
	cmd.Flags().StringVar(&junit, "junit", "", "also write the report as JUnit XML to this file")
	cmd.Flags().BoolVar(&keep, "keep", false, "leave each lab up after its file has run (remove it with gwlb-lab down --name LAB)")
	cmd.Flags().StringVar(&name, "name", "", nameUsage+" (default: a random sc-xxxxxx per file)")
	return cmd
}
