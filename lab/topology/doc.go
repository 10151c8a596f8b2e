// Package topology owns the topology file: the raw YAML types as written
// (raw.go), strict parsing that keeps every value's YAML path and line
// (Parse, Load), validation against AWS's rules (Validate), the resolved
// model the rest of the lab works from (Resolve, Lab), and the JSON schema
// editors use (Schema). docs/topology.md is the user's side of it.
//
// The flow is raw -> validate -> resolve (DESIGN §4 rule 7), and the raw and
// resolved types are separate: raw types keep strings and pointers so that
// a wrong value is reported with its path and "absent" stays distinct from
// "zero"; resolved types hold net/netip values, applied defaults and derived
// names, and are JSON-serialisable for the state file and the emulator's
// configuration.
//
// Trade-offs. Validation collects every finding instead of stopping at the
// first, at the price of guarding each rule against the fallout of earlier
// ones (an invalid prefix is kept as an invalid netip.Prefix and skipped by
// later rules). Patterns that cannot work on AWS but that the lab exists to
// reproduce (spec §6.6) are warnings, not errors: the lab builds what AWS
// would accept, even when it would not carry traffic. Names, ids and MACs
// are hashes of the lab and object names rather than counters, so that
// adding an object never renames another.
//
// Input is bounded before it is trusted: files are read up to MaxFileSize,
// the walk over the YAML counts every value an alias or merge key repeats
// against MaxValues, reading and parsing give way to the caller's context,
// and counts beyond what one machine carries are errors (validate_limits.go)
// checked before the rules that compare objects pairwise.
package topology
