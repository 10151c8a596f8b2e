package scenario

import "github.com/gwlb-lab/gwlb-lab/lab/topology"

// SchemaID is the $id of the scenario file's schema.
const SchemaID = "https://github.com/gwlb-lab/gwlb-lab/docs/scenario.schema.json"

// Schema returns the JSON schema of the scenario file, generated from the
// raw types as the topology's is, with the topology's definitions for the
// inline topology. The output only changes when the raw types do.
func Schema() ([]byte, error) {
	return topology.SchemaFor[Scenario](SchemaID, "gwlb-lab scenario",
		"A gwlb-lab scenario: a lab's topology and the steps of a test of it (traffic, faults, route edits, waits, expectations). See docs/scenarios.md.")
}
