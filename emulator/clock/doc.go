// Package clock is the emulator's notion of time. Every timer of the data
// plane (flow idle timeouts, NAT entries, health-check intervals) reads a
// Clock instead of the time package, so a lab can run AWS's timings faster
// than real time (time_scale) and tests can step time by hand.
//
// The trade-off: a scaled clock stretches only the emulator's time; the
// programs in the nodes (appliances, TCP stacks) still live in real time, so
// a scale of 100 makes a 350 s idle timeout 3.5 s while TCP retransmits keep
// their real pace. That is what tests of AWS timings want.
package clock
