package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// cpuShare is where the machine's CPU time went during one measurement,
// as fractions of all its cores' time: per group of processes (user and
// system time of their own threads, which includes the kernel work done
// in their system calls), interrupts and softirqs not charged to any of
// them, and idle.
type cpuShare struct {
	groups       map[string][2]float64 // user, system
	irq, idle    float64
	groupsSorted []string
}

func (s cpuShare) String() string {
	var b strings.Builder
	for _, g := range s.groupsSorted {
		v := s.groups[g]
		fmt.Fprintf(&b, "%s %.0f%% (user %.0f%%, system %.0f%%); ", g, 100*(v[0]+v[1]), 100*v[0], 100*v[1])
	}
	rest := 1 - s.irq - s.idle
	for _, v := range s.groups {
		rest -= v[0] + v[1]
	}
	fmt.Fprintf(&b, "softirq/irq %.0f%%; other processes %.0f%%; idle %.0f%% (of 100%% for all cores)", 100*s.irq, 100*max(rest, 0), 100*s.idle)
	return b.String()
}

// machineTicks reads /proc/stat's first line: total, idle+iowait and
// irq+softirq clock ticks of all cores.
func machineTicks() (total, idle, irq uint64, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, 0, 0, fmt.Errorf("/proc/stat: unexpected %q", line)
	}
	var v [10]uint64
	for i := 1; i < len(f) && i <= len(v); i++ {
		v[i-1], _ = strconv.ParseUint(f[i], 10, 64)
	}
	for _, x := range v[:8] { // user nice system idle iowait irq softirq steal
		total += x
	}
	return total, v[3] + v[4], v[5] + v[6], nil
}

// procTicks is the user and system clock ticks of every thread of pid.
func procTicks(pid int) (user, sys uint64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0
	}
	user, _ = strconv.ParseUint(f[11], 10, 64)
	sys, _ = strconv.ParseUint(f[12], 10, 64)
	return user, sys
}

// pidsInNetns lists the processes whose network namespace is the one
// mounted at path.
func pidsInNetns(path string) []int {
	var want syscall.Stat_t
	if syscall.Stat(path, &want) != nil {
		return nil
	}
	var out []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		var st syscall.Stat_t
		if syscall.Stat(d+"/ns/net", &st) != nil || st.Ino != want.Ino || st.Dev != want.Dev {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// measureCPU runs do and returns where the CPU time went meanwhile, for
// the named groups of processes.
func measureCPU(groups map[string][]int, do func() error) (cpuShare, error) {
	t0, i0, q0, err := machineTicks()
	if err != nil {
		return cpuShare{}, err
	}
	before := map[int][2]uint64{}
	for _, pids := range groups {
		for _, p := range pids {
			u, s := procTicks(p)
			before[p] = [2]uint64{u, s}
		}
	}
	if err := do(); err != nil {
		return cpuShare{}, err
	}
	t1, i1, q1, err := machineTicks()
	if err != nil {
		return cpuShare{}, err
	}
	total := float64(t1 - t0)
	if total == 0 {
		return cpuShare{}, fmt.Errorf("no clock ticks elapsed")
	}
	out := cpuShare{groups: map[string][2]float64{}, irq: float64(q1-q0) / total, idle: float64(i1-i0) / total}
	for g, pids := range groups {
		var u, s uint64
		for _, p := range pids {
			u1, s1 := procTicks(p)
			u += u1 - min(u1, before[p][0])
			s += s1 - min(s1, before[p][1])
		}
		out.groups[g] = [2]float64{float64(u) / total, float64(s) / total}
		out.groupsSorted = append(out.groupsSorted, g)
	}
	sort.Strings(out.groupsSorted)
	return out, nil
}
