package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/gwlb-lab/gwlb-lab/scenarios"
)

// embeddedDefaultName is how messages name the embedded default lab.
const embeddedDefaultName = "default.yaml (embedded)"

func newValidateCmd(Env) *cobra.Command {
	var (
		file   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "validate [-f FILE] [--json]",
		Short: "Check a topology file and list its errors and warnings",
		Long: `validate parses and checks a topology file (docs/topology.md) without
touching the system. Errors name the YAML path of the problem; warnings name
patterns the lab builds although they cannot work on AWS, with the section of
docs/gwlb-behaviour.md that says why ("spec §N"). Without -f it checks the
embedded default lab. Counts above AWS's quotas are warnings; above what one
machine carries (1000 nodes, 1000 routes per table, ...), errors:
docs/topology.md, "Limits". A file over 4 MiB, or whose aliases expand to
over 524288 values, is refused.

The exit status is 1 when the file has errors, 0 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, name, err := readTopology(cmd, file)
			if err != nil {
				return err
			}
			var diags topology.Diagnostics
			f, err := topology.ParseContext(cmd.Context(), data, name)
			switch {
			case errors.As(err, &diags):
			case err != nil:
				return err
			default:
				diags = topology.Validate(f)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				err = writeValidateJSON(out, name, diags)
			} else {
				err = writeValidateText(out, name, diags)
			}
			if err != nil {
				return err
			}
			if diags.HasErrors() {
				return &ExitError{Code: 1}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "topology file, - for standard input (default: the embedded default lab)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// readTopology reads the file named by -f: a path, - for standard input, or
// empty for the embedded default lab.
func readTopology(cmd *cobra.Command, file string) ([]byte, string, error) {
	switch file {
	case "":
		return scenarios.Default(), embeddedDefaultName, nil
	case "-":
		data, err := topology.ReadAll(cmd.Context(), cmd.InOrStdin())
		if err != nil {
			return nil, "", fmt.Errorf("read topology from standard input: %w", err)
		}
		return data, "<stdin>", nil
	}
	data, err := topology.ReadFile(cmd.Context(), file)
	if err != nil {
		return nil, "", err
	}
	return data, file, nil
}

// writeValidateText prints one line per finding, FILE:LINE: SEVERITY:
// PATH: MESSAGE, and a summary line.
func writeValidateText(w io.Writer, name string, diags topology.Diagnostics) error {
	for _, d := range diags {
		loc := name
		if d.Line > 0 {
			loc = fmt.Sprintf("%s:%d", name, d.Line)
		}
		if _, err := fmt.Fprintf(w, "%s: %s: %s\n", loc, d.Severity, d); err != nil {
			return err
		}
	}
	nerr, nwarn := len(diags.Errors()), len(diags.Warnings())
	verdict := "valid"
	if nerr > 0 {
		verdict = "invalid"
	}
	_, err := fmt.Fprintf(w, "%s: %s, %s, %s\n", name, verdict, plural(nerr, "error"), plural(nwarn, "warning"))
	return err
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// validateFinding is one finding in validate's JSON output.
type validateFinding struct {
	Path    string `json:"path"`
	Line    int    `json:"line"`
	Message string `json:"message"`
	Spec    string `json:"spec,omitempty"`
}

// validateResult is validate's JSON output.
type validateResult struct {
	File     string            `json:"file"`
	Valid    bool              `json:"valid"`
	Errors   []validateFinding `json:"errors"`
	Warnings []validateFinding `json:"warnings"`
}

func writeValidateJSON(w io.Writer, name string, diags topology.Diagnostics) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(validateJSON(name, diags))
}

// validateJSON makes the JSON result of one file's findings.
func validateJSON(name string, diags topology.Diagnostics) validateResult {
	res := validateResult{File: name, Valid: !diags.HasErrors(), Errors: []validateFinding{}, Warnings: []validateFinding{}}
	for _, d := range diags {
		f := validateFinding{Path: d.Path, Line: d.Line, Message: d.Message, Spec: d.Spec}
		if d.Severity == topology.SeverityError {
			res.Errors = append(res.Errors, f)
		} else {
			res.Warnings = append(res.Warnings, f)
		}
	}
	return res
}
