package cli

import (
	"encoding/json"
	"errors"

	"github.com/spf13/cobra"

	"github.com/gwlb-lab/gwlb-lab/lab/scenario"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

// newScenarioCmd groups the scenario file's commands.
func newScenarioCmd(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "scenario",
		Short: "Check and run scenario files: a topology plus steps and expectations",
		Long: `A scenario file describes a test of a lab: its topology (inline, a topology
file, or a built-in lab) and steps: traffic, faults, route edits, Auto Scaling
group capacities, waits and expectations (docs/scenarios.md). The files shipped in scenarios/seeds and
scenarios/mistakes are examples, and the catalogue of routing mistakes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newScenarioValidateCmd(env), newScenarioSchemaCmd(env), newScenarioRunCmd(env))
	return cmd
}

func newScenarioValidateCmd(Env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate FILE... [--json]",
		Short: "Check scenario files and list their errors and warnings",
		Long: `validate parses and checks scenario files without touching the system: the
scenario's topology first, as gwlb-lab validate checks a topology file, then
every step against it: exactly one key per step, durations that parse, and
every node, target, route table, appliance, traffic label and drop reason
named exists. Each finding names its YAML path and line
(steps[3].traffic.port: ...); findings about a topology_file name that file's
line in the message.

The exit status is 1 when any file has errors (or cannot be read), 0
otherwise.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			failed := false
			var results []validateResult
			for _, path := range args {
				var diags topology.Diagnostics
				f, err := scenario.Load(cmd.Context(), path)
				var perr *scenario.Error
				switch {
				case errors.As(err, &perr):
					diags = perr.Diagnostics
				case err != nil:
					diags = topology.Diagnostics{{Message: err.Error()}}
				default:
					diags = scenario.Validate(cmd.Context(), f)
				}
				if diags.HasErrors() {
					failed = true
				}
				if asJSON {
					results = append(results, validateJSON(path, diags))
					continue
				}
				if err := writeValidateText(out, path, diags); err != nil {
					return err
				}
			}
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				enc.SetEscapeHTML(false)
				if err := enc.Encode(scenarioValidateResult{Valid: !failed, Files: results}); err != nil {
					return err
				}
			}
			if failed {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON: {valid, files: [{file, valid, errors, warnings}]}")
	return cmd
}

// scenarioValidateResult is scenario validate's JSON output.
type scenarioValidateResult struct {
	Valid bool             `json:"valid"`
	Files []validateResult `json:"files"`
}

func newScenarioSchemaCmd(Env) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON schema of the scenario file",
		Long: `schema prints the JSON schema of the scenario file, for editors, e.g. with the
comment
  # yaml-language-server: $schema=<path to docs/scenario.schema.json>
The committed copy, docs/scenario.schema.json, is this output. It holds the
topology file's definitions too, for the inline topology.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := scenario.Schema()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
}
