// Package labapi holds the JSON types that the gwlb-lab command prints with
// --json about a lab (status, nodes) and that its node programs write (the
// reference appliance's flow log), so that programs, the public gwlblab
// package among them, can read them without importing the lab's machinery.
// It imports the standard library and emulator/api only.
package labapi
