// Package asg holds the end-to-end specs of Auto Scaling groups (spec
// §13): instances launched and terminated by the emulator through node add
// and node remove, registered in the GWLB's target group, replaced when
// their program dies, balanced over AZs, and scaled by a target tracking
// policy on a fast lab clock. They need root.
package asg
