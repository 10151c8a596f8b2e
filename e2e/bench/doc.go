// Package bench holds the lab's scale benchmarks: how long `up` and `down`
// take for labs of 10 and 100 instances. They need root and run under
// `make bench`; docs/benchmarks.md records the numbers.
package bench
