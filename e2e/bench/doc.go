// Package bench holds the lab's end-to-end benchmarks: how long `up` and
// `down` take for labs of 10 and 100 instances, and the data path through
// the GWLB and the reference appliance against two all-kernel anchors (a
// VXLAN hairpin through an appliance namespace and a routed namespace
// chain), measured in one run and reported as ratios. They need root and
// run under `make bench`; docs/benchmarks.md records the numbers.
package bench
