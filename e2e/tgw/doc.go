// Package tgw is the e2e suite of transit gateways: spoke VPCs inspected
// east-west by a GWLB in an inspection VPC behind a transit gateway
// (scenarios/tgw-east-west.yaml), with appliance mode on, off as in
// spec §6.6 #4, and with 2-tuple stickiness as in #6.
package tgw
