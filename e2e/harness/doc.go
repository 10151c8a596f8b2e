// Package harness runs gwlb-lab for the e2e suites: it builds (or finds) the
// binary, brings labs up under random names and removes them afterwards,
// whatever happened in between. It asserts with Gomega, so it is only for
// Ginkgo specs.
package harness
