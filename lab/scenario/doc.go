// Package scenario owns the scenario file: a test of a lab written down as a
// topology plus steps (traffic, faults, route edits, waits) and the
// expectations that judge them. It holds the raw types as written (raw.go),
// the strict parser (Parse, Load), validation against the topology the
// scenario names (Validate) and the JSON schema editors use (Schema).
// docs/scenarios.md is the user's side of it.
//
// Everything about reading YAML is lab/topology's: the same strict walk,
// the same YAML paths and lines in diagnostics, the same schema generator;
// a scenario's inline topology is a topology.Topology, validated by
// topology.Validate with its paths put under "topology". The scenario adds
// only its own checks: exactly one key per step, durations that parse, and
// that every node, target, route table, appliance, traffic label and drop
// reason a step names exists. To check names the topology is resolved (under
// a throw-away lab name): a scenario whose topology does not validate is
// reported with the topology's errors and no further checks.
//
// Running a scenario is not this package's: a runner (gwlb-lab scenario
// run) resolves TopologyFile under its own lab name and carries the steps
// out in order; the meaning of each step and expectation is documented on
// its type and in docs/scenarios.md.
package scenario
