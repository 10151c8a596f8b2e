// Package scenarios is the e2e suite of `gwlb-lab scenario run`: every
// shipped scenario file (scenarios/seeds, scenarios/mistakes) runs through
// the built binary and must pass, and a file whose expectation is turned
// into the wrong one must fail with evidence that names where its traffic
// went.
package scenarios
