// Package appliance is the reference GWLB appliance: it receives GENEVE on
// UDP 6081, runs the inner packet through a handler chain and returns it with
// the GENEVE header echoed byte for byte (spec §2.4). It runs inside a lab
// node as `gwlb-lab appliance`.
package appliance
