// Package gwlb is the e2e suite of GWLB on the wire: labs with a GWLB, its
// endpoint and real appliances, driven through the gwlb-lab binary. It
// checks what users check on AWS — traffic both ways through an appliance,
// the capture on the appliance, flow stickiness, idle timeouts, drops of
// misbehaving appliances — and reproduces the routing mistakes of spec §6.6.
package gwlb
