package netns

// ProcessStartTime returns the kernel's start time of a process (clock ticks
// since boot), which together with the PID names it across PID reuse. The
// lab records it for processes it starts outside any node (the emulator).
func ProcessStartTime(pid int) (uint64, error) {
	s, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	return s.startTime, nil
}
