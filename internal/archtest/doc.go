// Package archtest checks the import boundaries of DESIGN §2 by reading the
// module's source with go/parser, so the check needs no toolchain subprocess.
package archtest
