package lab

import "strings"

// causeLine returns the line of a program's log that says why it died: the
// first line of its last Go panic or fatal runtime error, or else the last
// error our own commands print before exiting ("gwlb-lab: ..."). Only lines
// starting in column 0 count: the panics a recovered panic raised are
// indented, and the emulator's log is appended to across restarts, so the
// last occurrence is the one that ended the latest run. Empty when the log
// has no such line.
func causeLine(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") || strings.HasPrefix(l, "gwlb-lab: ") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
