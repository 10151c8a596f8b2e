package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/gwlb-lab/gwlb-lab/lab/labapi"
)

// nodeActuator is how the emulator's Auto Scaling groups make and remove
// their instances' nodes (spec §13): it runs this program's own `node add
// INSTANCE --subnet S --asg GROUP` (the group's launch template, from the
// lab's resolved topology) and `node remove INSTANCE`, so an instance is
// made, recorded and removed exactly as a node added by hand.
type nodeActuator struct {
	bin, lab string
	timeout  time.Duration
	m        *lab.Manager

	mu       sync.Mutex
	seen     time.Time            // when alive was read
	alive    map[string]bool      // node -> its program runs
	launched map[string]time.Time // node -> when its launch ended
	status   func(ctx context.Context) (*labapi.Status, error)
}

func newNodeActuator(bin, labName string, m *lab.Manager) *nodeActuator {
	a := &nodeActuator{bin: bin, lab: labName, m: m, timeout: 5 * time.Minute}
	a.status = func(ctx context.Context) (*labapi.Status, error) { return m.Status(ctx, labName) }
	return a
}

func (a *nodeActuator) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, a.bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own session: stopping the emulator's process group (emulator
	// restart) leaves the nodes it made.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("gwlb-lab %s: %s", strings.Join(args[:2], " "), msg)
	}
	return stdout.Bytes(), nil
}

// Launch makes the instance's node and returns its address. While the lab
// is still coming up (the emulator starts before up is done) it waits.
func (a *nodeActuator) Launch(group, inst, subnet string) (netip.Addr, error) {
	if err := a.waitUp(); err != nil {
		return netip.Addr{}, err
	}
	out, err := a.run("node", "add", inst, "--name", a.lab, "--subnet", subnet, "--asg", group, "--json")
	if err != nil {
		return netip.Addr{}, err
	}
	a.mu.Lock()
	if a.launched == nil {
		a.launched = map[string]time.Time{}
	}
	a.launched[inst] = time.Now()
	a.mu.Unlock()
	var ns labapi.NodeStatus
	if err := json.Unmarshal(out, &ns); err != nil {
		return netip.Addr{}, fmt.Errorf("node add %s answered %q: %w", inst, out, err)
	}
	p, err := netip.ParsePrefix(ns.Address)
	if err != nil {
		if ip, err2 := netip.ParseAddr(ns.Address); err2 == nil {
			return ip, nil
		}
		return netip.Addr{}, fmt.Errorf("node add %s: address %q: %w", inst, ns.Address, err)
	}
	return p.Addr(), nil
}

// Terminate removes the instance's node; a node that is gone already
// (removed by hand) is terminated.
func (a *nodeActuator) Terminate(group, inst string) error {
	_, err := a.run("node", "remove", inst, "--name", a.lab)
	if err == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st, serr := a.status(ctx); serr == nil && !slices.ContainsFunc(st.Nodes, func(n labapi.NodeStatus) bool { return n.Name == inst }) {
		return nil
	}
	return err
}

// Alive reports whether the instance's node exists and its program runs,
// from the lab's status read at most once a second, and read again for an
// instance launched after the last reading (which cannot know its node).
func (a *nodeActuator) Alive(inst string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.alive == nil || time.Since(a.seen) > time.Second || a.launched[inst].After(a.seen) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := a.status(ctx)
		cancel()
		if err != nil {
			return true // no verdict: nothing is replaced on a failed read
		}
		a.alive, a.seen = map[string]bool{}, time.Now()
		for _, n := range st.Nodes {
			a.alive[n.Name] = n.Running && !n.Paused
		}
	}
	return a.alive[inst]
}

// waitUp waits until the lab's phase is up.
func (a *nodeActuator) waitUp() error {
	deadline := time.Now().Add(a.timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		st, err := a.status(ctx)
		cancel()
		switch {
		case err == nil && st.Phase == lab.PhaseUp:
			return nil
		case err == nil && st.Phase == lab.PhaseFailed:
			return fmt.Errorf("lab %s failed to come up: no instance is launched", a.lab)
		case time.Now().After(deadline):
			return fmt.Errorf("lab %s is not up after %s (phase %v, %v)", a.lab, a.timeout, phaseOf(st), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func phaseOf(st *labapi.Status) string {
	if st == nil {
		return "unknown"
	}
	return st.Phase
}
