// Package deps checks scripts/deps.sh, which make test and make lab-up run
// to install the Debian packages they need: that it waits for apt's package
// lock instead of failing while another apt run holds it, and which packages
// each make target asks for. It needs root and apt; it takes the real dpkg
// frontend lock for a few seconds, as any apt run would.
package deps
