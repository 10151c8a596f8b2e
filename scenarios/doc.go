// Package scenarios holds the lab files shipped with gwlb-lab, embedded in
// the binary so that `gwlb-lab validate` and `gwlb-lab up` work without a
// checkout. default.yaml is the lab used when no file is given: single-VPC
// ingress/egress inspection through one GWLB endpoint. plain-vpc.yaml is a
// VPC without a GWLB (internet gateway, NAT gateway, a middlebox route and a
// blackhole route), for testing the fabric on its own.
//
// The subdirectories hold scenario files (docs/scenarios.md), which are not
// embedded: seeds/ the working designs, mistakes/ a broken and a fixed file
// for each routing mistake of spec §6.6 the lab reproduces. lab/scenario's
// tests validate them all.
//
// The files here are plain topology files (docs/topology.md); this package only
// ships them and does not parse them, so that lab/topology stays free to
// import it in tests. The trade-off: a broken file is caught by the tests of
// lab/topology and by `gwlb-lab validate`, not at compile time.
package scenarios
