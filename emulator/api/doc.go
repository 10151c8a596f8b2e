// Package api holds the JSON types of the emulator's control API: what the
// control socket (HTTP over a Unix socket, /run/gwlb-lab/<lab>/control.sock)
// answers and accepts, with the paths and query parameters that ask for it.
//
// The emulator encodes these types and every reader (the gwlb-lab command,
// the public gwlblab package, users' own programs) decodes them, so the two
// sides cannot drift apart. It uses the standard library only, so that
// importing it costs a program nothing else.
package api
