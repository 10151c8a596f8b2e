// Package daemon is the emulator process of one lab (`gwlb-lab emulator`): it
// loads the resolved configuration, attaches to every node's TAP, runs the
// fabric and answers on the control socket until it is told to stop.
//
// Opening a port is the only step that touches a node's namespace, and it is
// done through emulator/port, which enters the namespace on a locked thread
// of its own; the daemon itself never changes namespace.
package daemon
