// Package route implements AWS VPC route tables: a set of destination
// prefixes (IPv4 and IPv6), each with a target, and the longest-prefix match
// the VPC router does for every packet that leaves a subnet.
//
// It owns the lookup structure and the AWS rules for changing a table
// (CreateRoute fails on an existing destination, ReplaceRoute and DeleteRoute
// fail on a missing one). It does not own what a target means: [Table] is
// generic over the target value, and [Target] is the plain-data form the
// fabric can use (local, internet gateway, NAT gateway, GWLB endpoint,
// instance/ENI, blackhole).
//
// Trade-off: lookups are paid for by writes. Each mutation re-derives a
// flat index for the changed address family: the address space is cut into
// disjoint intervals, each labelled with its most specific route, and stored
// as a sorted slice of interval start addresses. A lookup is one binary
// search over that slice (about log2(2n) comparisons, no pointers chased,
// nothing allocated), independent of how many distinct prefix lengths the
// table holds. A mutation costs O(n) time and allocates. That suits route
// tables, which change a few times per lab and are read for every packet:
// the emulator builds or clones a table, mutates it, and swaps the result in
// behind an atomic.Pointer; readers never take a lock. The alternative of
// one hash map per prefix length, probed from the longest present length
// down, makes writes O(1) but costs one probe per distinct length on every
// miss; BenchmarkLookup measures both (see docs/benchmarks.md).
package route
