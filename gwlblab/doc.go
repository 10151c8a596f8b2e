// Package gwlblab drives gwlb-lab labs from Go: users' own test suites and
// programs bring a lab up, send traffic between its nodes, and read what the
// emulator saw (flows, targets, counters, traces, captures) without parsing
// text.
//
// It runs the gwlb-lab binary for what changes a lab (up, down, exec, node
// verbs), reading its --json output, and talks to the lab's emulator over its
// control socket (HTTP over a Unix socket in the lab's state directory) for
// the rest, faults and runtime edits included (link impairments, health
// checks forced to fail, route edits). Answers are the types of
// emulator/api and lab/labapi. It imports nothing else, so a module that
// imports it stays light. Every method returns its errors; none asserts or
// panics.
//
// Bringing labs up needs root, as the gwlb-lab command does.
//
//	l, err := gwlblab.Up(ctx, gwlblab.Options{File: "lab.yaml"})
//	if err != nil { ... }
//	defer l.Down(context.WithoutCancel(ctx))
//	body, err := l.Curl(ctx, "client", "http://203.0.113.10/")
//	flows, err := l.Flows(ctx, api.FlowFilter{Proto: "tcp"})
//	_, err = l.FailHealth(ctx, "fw-1")
//	_, err = l.Link("web").Set(ctx, gwlblab.Impairment{LossPercent: 20})
//
// examples/appliance-suite in the repository is a user's suite written
// with it.
package gwlblab
