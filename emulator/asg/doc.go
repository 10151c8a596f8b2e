// Package asg runs the lab's EC2 Auto Scaling groups (spec §13) inside the
// emulator, on the lab clock: it launches and terminates instances through
// an Actuator (the lab makes and removes the nodes), registers InService
// instances in their GWLB target groups and deregisters them before
// termination through a Balancer, waits on lifecycle hooks, replaces
// unhealthy instances after the grace period, and evaluates a target
// tracking policy once a lab minute. Step does one round; Run calls it on a
// ticker. Everything it decides is reported as api.Event.
package asg
