package cli

import (
	"errors"
	"fmt"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/gwlb-lab/gwlb-lab/scenarios"
	"github.com/spf13/cobra"
)

// loadLab reads, validates and resolves a topology file (the embedded default
// lab when file is empty). Warnings go to stderr; errors are printed the way
// `validate` prints them and end the command with exit status 1.
func loadLab(cmd *cobra.Command, file, name string) (*topology.Lab, string, error) {
	data, source := scenarios.Default(), "default lab (embedded)"
	if file != "" {
		b, err := topology.ReadFile(cmd.Context(), file)
		if err != nil {
			return nil, "", err
		}
		data, source = b, file
	}
	f, err := topology.ParseContext(cmd.Context(), data, source)
	var diags topology.Diagnostics
	if err != nil {
		if !errors.As(err, &diags) {
			return nil, "", err
		}
	} else {
		diags = topology.Validate(f)
	}
	for _, d := range diags {
		fmt.Fprintf(cmd.ErrOrStderr(), "%s:%d: %s: %s\n", source, d.Line, d.Severity, d)
	}
	if len(diags.Errors()) > 0 {
		return nil, "", &ExitError{Code: 1}
	}
	l, err := topology.Resolve(f, name)
	if err != nil {
		return nil, "", err
	}
	return l, source, nil
}
