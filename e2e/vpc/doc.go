// Package vpc is the e2e suite of the VPC fabric without a GWLB: internet
// and NAT gateways, same-subnet delivery, middlebox routes, the
// source/destination check, drop counters, and `down` after crashes.
package vpc
