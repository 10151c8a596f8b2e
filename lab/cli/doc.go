// Package cli holds the gwlb-lab command tree (cobra). It has no package
// globals: every command is built by a constructor that receives the Env, and
// all output goes through the command's writers so tests can capture it.
package cli
