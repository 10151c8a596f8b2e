// Package appliancesuite tests a network appliance behind an AWS Gateway
// Load Balancer, emulated by gwlb-lab: traffic in and out goes through it,
// both directions of a connection through the same one, a failed appliance
// loses its new flows to the other, and a routing mistake shows its
// symptom. See README.md.
package appliancesuite
