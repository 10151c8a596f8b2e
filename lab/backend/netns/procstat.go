package netns

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
)

// procStat is the part of /proc/<pid>/stat that Stop needs.
type procStat struct {
	state     byte
	pgrp      int
	session   int
	startTime uint64
}

// live is false for zombies and dead tasks: they hold a PID but run nothing.
func (s procStat) live() bool { return s.state != 'Z' && s.state != 'X' }

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// parseStat parses the proc(5) stat line. The command name (field 2) is in
// parentheses and may itself contain spaces and parentheses, so fields are
// counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 || end+2 > len(b) {
		return procStat{}, fmt.Errorf("malformed stat line %q", b)
	}
	f := bytes.Fields(b[end+1:])
	// f[0] is field 3 (state); field n is f[n-3].
	const (
		fState     = 3 - 3
		fPgrp      = 5 - 3
		fSession   = 6 - 3
		fStartTime = 22 - 3
	)
	if len(f) <= fStartTime || len(f[fState]) != 1 {
		return procStat{}, fmt.Errorf("malformed stat line %q", b)
	}
	pgrp, err := strconv.Atoi(string(f[fPgrp]))
	if err != nil {
		return procStat{}, fmt.Errorf("stat pgrp: %w", err)
	}
	session, err := strconv.Atoi(string(f[fSession]))
	if err != nil {
		return procStat{}, fmt.Errorf("stat session: %w", err)
	}
	start, err := strconv.ParseUint(string(f[fStartTime]), 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("stat starttime: %w", err)
	}
	return procStat{state: f[fState][0], pgrp: pgrp, session: session, startTime: start}, nil
}

// groupHasLive reports whether any non-zombie process has process group
// pgrp. Processes that vanish during the scan are skipped.
func groupHasLive(pgrp int) (bool, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return false, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return false, err
	}
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		if st.pgrp == pgrp && st.live() {
			return true, nil
		}
	}
	return false, nil
}
