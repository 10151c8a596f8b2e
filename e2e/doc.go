// Package e2e holds the Ginkgo suites that run gwlb-lab for real: they create
// network namespaces and processes, so they need root and skip without it.
package e2e
