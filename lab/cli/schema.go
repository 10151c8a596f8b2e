package cli

import (
	"github.com/spf13/cobra"

	"github.com/gwlb-lab/gwlb-lab/lab/topology"
)

func newSchemaCmd(Env) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON schema of the topology file",
		Long: `schema prints the JSON schema of the topology file, for editors: point
yaml-language-server (or your editor's equivalent) at it, e.g. with the comment
  # yaml-language-server: $schema=<path to docs/topology.schema.json>
The committed copy, docs/topology.schema.json, is this output.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := topology.Schema()
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
}
