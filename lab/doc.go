// Package lab brings a lab up and down: it turns a resolved topology into
// nodes (network namespaces with a TAP each), the emulator process and the
// programs the nodes run, and records every step in a state file under
// /run/gwlb-lab/<lab> so that `down` can undo all of it, also after a crash
// of `up` or of the emulator.
//
// The trade-off: `up` writes the state file before each step instead of after
// it, so a crash can leave the file naming something that was never made;
// `down` treats a missing resource as already gone, which keeps it both safe
// and idempotent.
//
// What a lab owns is what it records, never what its prefix matches: lab
// names may overlap ("a9", "a9-fw"), so `up` claims its namespaces under a
// lock on the state root after checking that no other lab records them, and
// `down` leaves every namespace another lab records (claims.go).
//
// Nodes added to a running lab (runtime.go) are made the same way and
// recorded the same way, before each step; several commands may change a
// running lab at once, so every read-modify-write of its state file takes
// the lab's lock (updateState).
package lab
