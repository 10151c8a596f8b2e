package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gwlb-lab/gwlb-lab/emulator/api"
	"github.com/gwlb-lab/gwlb-lab/emulator/control"
	"github.com/gwlb-lab/gwlb-lab/lab"
	"github.com/gwlb-lab/gwlb-lab/lab/topology"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// needRoot fails early, with the reason, for commands that create or enter
// network namespaces.
func needRoot(what string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s needs root (it creates or enters network namespaces and TAP devices): run it with sudo", what)
	}
	return nil
}

// needRootToLook fails early for commands that act on a running lab: its
// state directory, control socket and namespaces are root's alone (0700,
// 0600), so without root the answer would be a bare "permission denied" on a
// path.
func needRootToLook(what string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s needs root (a lab's state in %s, its control socket and its namespaces are root's alone): run it with sudo", what, lab.DefaultStateRoot)
	}
	return nil
}

func newManager(env Env, cmd *cobra.Command, quiet bool) (*lab.Manager, error) {
	return newManagerWaiting(env, cmd, quiet, true)
}

// newManagerWaiting is newManager for `up`, which may skip the wait for
// the targets' first health verdicts.
func newManagerWaiting(env Env, cmd *cobra.Command, quiet, wait bool) (*lab.Manager, error) {
	var progress io.Writer = cmd.ErrOrStderr()
	if quiet {
		progress = io.Discard
	}
	return lab.NewManager(lab.Options{
		NoWaitTargets: !wait,
		Progress:      progress, StateRoot: env.StateRoot, NetnsDir: env.NetnsDir,
		// Test hooks, read here so the lab package reads no environment.
		NoCgroup: os.Getenv("GWLB_LAB_NO_CGROUP") == "1",
		CrashAt:  os.Getenv("GWLB_LAB_TEST_CRASH_AT"),
		// The image of container nodes' holders (default gwlb-lab:latest).
		HolderImage: os.Getenv("GWLB_LAB_IMAGE"),
	})
}

// nameUsage is the help of every --name flag: what a lab name may be.
var nameUsage = fmt.Sprintf("lab name: 1 to %d lowercase letters, digits and hyphens", topology.MaxLabNameLen)

// checkNameFlag refuses an invalid --name before anything touches a path,
// with the same error `up` gives. An explicit empty --name is invalid too;
// only an absent flag means "pick the default".
func checkNameFlag(cmd *cobra.Command, name string) error {
	if name == "" && !cmd.Flags().Changed("name") {
		return nil
	}
	return topology.ValidateLabName(name)
}

// noLabError is "the lab asked for is not up", with the labs that are.
type noLabError struct {
	name string   // "" when no lab was named
	up   []string // the labs that are up
}

func (e *noLabError) Error() string {
	var s string
	if e.name == "" {
		s = "no lab is up"
	} else {
		s = fmt.Sprintf("no lab named %q is up", e.name)
	}
	switch {
	case len(e.up) > 0:
		s += " (labs up: " + strings.Join(e.up, ", ") + ")"
	case e.name != "":
		s += " (no lab is up)"
	default:
		s += " (bring one up with gwlb-lab up)"
	}
	return s
}

// Unwrap makes it a lab.ErrNoLab, which Main turns into ExitNoLab.
func (e *noLabError) Unwrap() error { return lab.ErrNoLab }

// noLab builds the error for a lab that is not there.
func noLab(m *lab.Manager, name string) error {
	up, _ := m.List()
	return &noLabError{name: name, up: up}
}

// labName picks the lab a command is about: the --name flag, else the only
// lab that is up (said on stderr unless it is "default", so that nobody acts
// on someone else's lab without knowing), else an error.
func labName(cmd *cobra.Command, m *lab.Manager, flag string) (string, error) {
	labs, err := m.List()
	if err != nil {
		return "", err
	}
	if flag != "" {
		if !slices.Contains(labs, flag) {
			return "", &noLabError{name: flag, up: labs}
		}
		return flag, nil
	}
	switch len(labs) {
	case 0:
		return "", &noLabError{}
	case 1:
		if labs[0] != defaultLabName {
			fmt.Fprintf(cmd.ErrOrStderr(), "gwlb-lab: using lab %s, the only lab that is up (--name picks one)\n", labs[0])
		}
		return labs[0], nil
	}
	return "", fmt.Errorf("several labs are up (%s): pick one with --name", strings.Join(labs, ", "))
}

const defaultLabName = "default"

// labRef is the --name flag of the commands that act on a running lab.
type labRef struct {
	env  Env
	name string
}

func (r *labRef) register(fs *pflag.FlagSet) {
	fs.StringVar(&r.name, "name", "", nameUsage+" (default: the only lab that is up)")
}

// open returns a quiet manager and the lab the flag names. It checks, in
// this order, that the name is valid, that it runs as root, and that the lab
// is up.
func (r *labRef) open(cmd *cobra.Command) (*lab.Manager, string, error) {
	if err := checkNameFlag(cmd, r.name); err != nil {
		return nil, "", err
	}
	if err := needRootToLook(cmd.CommandPath()); err != nil {
		return nil, "", err
	}
	m, err := newManager(r.env, cmd, true)
	if err != nil {
		return nil, "", err
	}
	n, err := labName(cmd, m, r.name)
	if err != nil {
		return nil, "", err
	}
	return m, n, nil
}

// control returns a client for the emulator of the lab the flag names,
// and the lab's name.
func (r *labRef) control(cmd *cobra.Command) (*control.Client, string, error) {
	m, n, err := r.open(cmd)
	if err != nil {
		return nil, "", err
	}
	c, err := m.Control(n)
	return c, n, err
}

// output prints v as JSON with --json, else with text.
func output(cmd *cobra.Command, asJSON bool, v any, text func(io.Writer) error) error {
	if asJSON {
		return writeJSON(cmd.OutOrStdout(), v)
	}
	return text(cmd.OutOrStdout())
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newUpCmd(env Env) *cobra.Command {
	var (
		file, name string
		keep       bool
		quiet      bool
		foreground bool
		noWait     bool
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "up [-f FILE] [--name LAB] [--no-wait] [--foreground] [--json]",
		Short: "Bring up a lab (the default lab without -f)",
		Long: `Bring up a lab: one network namespace per node (gwlb-<lab>-<node>) with a TAP
eth0 wired to the emulator, the emulator process, and what each node runs.
A node with a container section is a Docker container of that (local) image
instead, wired the same way; its namespace is held by a second container,
gwlb-<lab>-<node>.hold, of the gwlb-lab image (make images), so a restarted
container keeps eth0. Without -f the embedded default lab comes up. State,
logs and the control socket live in /run/gwlb-lab/<lab>. Needs root.

Targets start initial, as on AWS, and take no flow before their first health
check passes; up waits until every target has its first verdict (healthy, or
unhealthy after unhealthy_threshold failed checks), showing progress, unless
--no-wait is given.

With --foreground, up does not return once the lab is up: it prints the
nodes and waits, as the main process of a container does (docker-compose.yml
runs it so). On SIGINT or SIGTERM it removes the lab and exits 0; when the
emulator dies it prints the end of the emulator's log, removes the lab and
exits 1.

With --json, up prints the lab's status as status --json does (nodes,
addresses, state directory) once the lab is up, for programs that drive it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkNameFlag(cmd, name); err != nil {
				return err
			}
			if name == "" {
				name = defaultLabName
			}
			l, source, err := loadLab(cmd, file, name)
			if err != nil {
				return err
			}
			if err := needRoot("gwlb-lab up"); err != nil {
				return err
			}
			m, err := newManagerWaiting(env, cmd, quiet, !noWait)
			if err != nil {
				return err
			}
			if err := m.Up(cmd.Context(), l, source, keep); err != nil {
				if cmd.Context().Err() != nil {
					return interrupted(m, name, err)
				}
				return err
			}
			if asJSON {
				s, err := m.Status(cmd.Context(), name)
				if err != nil {
					return err
				}
				if err := writeJSON(cmd.OutOrStdout(), s); err != nil {
					return err
				}
			}
			if foreground {
				return holdLab(cmd, m, name, quiet)
			}
			if !asJSON {
				fmt.Fprintf(cmd.OutOrStdout(), "next: gwlb-lab status --name %s | gwlb-lab exec --name %s NODE -- CMD | gwlb-lab down --name %s\n", name, name, name)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "topology file (default: the embedded default lab)")
	cmd.Flags().StringVar(&name, "name", "", nameUsage+" (default \"default\")")
	cmd.Flags().BoolVar(&keep, "keep-on-failure", false, "leave a half-made lab in place for inspection (remove it with down)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return without waiting for the targets' first health verdicts")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the lab's status as JSON once it is up (as status --json)")
	cmd.Flags().BoolVar(&foreground, "foreground", false, "stay in the foreground and remove the lab on SIGINT/SIGTERM, or when its emulator dies")
	return cmd
}

// interrupted is the error of an up that SIGINT or SIGTERM stopped before
// the lab was up: one line when up removed what it had made, else up's
// errors and how to remove the rest.
func interrupted(m *lab.Manager, name string, err error) error {
	if labs, lerr := m.List(); lerr == nil && !slices.Contains(labs, name) {
		return fmt.Errorf("interrupted before lab %s was up; what was made is removed", name)
	}
	return fmt.Errorf("interrupted before lab %s was up; it is left half-made (gwlb-lab down --name %s removes it): %w", name, name, err)
}

// holdLab keeps a lab up while this command runs: until a signal, or until
// the emulator dies; then it removes the lab. Unless quiet, it first prints
// the nodes, for whoever reads a container's log.
func holdLab(cmd *cobra.Command, m *lab.Manager, name string, quiet bool) error {
	ctx := cmd.Context()
	if !quiet {
		if s, err := m.Status(ctx, name); err == nil {
			printNodes(cmd.OutOrStdout(), s.Nodes)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "next: gwlb-lab status | gwlb-lab exec NODE -- CMD | gwlb-lab flows\n")
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "lab %s is up; SIGINT or SIGTERM removes it\n", name)
	var cause error
	t := time.NewTicker(time.Second)
	defer t.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case <-t.C:
			s, err := m.Status(context.WithoutCancel(ctx), name)
			if err != nil {
				cause = err
				break wait
			}
			if !s.Emulator.Running {
				cause = fmt.Errorf("the emulator of lab %s exited", name)
				// down removes the log with the lab (and a container
				// takes it along): show its end while it is there.
				printLogTail(cmd.ErrOrStderr(), s.Emulator.Log, 20)
				break wait
			}
		}
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "removing lab %s\n", name)
	if err := m.Down(context.WithoutCancel(ctx), name); err != nil {
		return errors.Join(cause, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "lab %s removed\n", name)
	return cause
}

// printLogTail writes the last n lines of the log at path, each prefixed
// with the log's name; nothing when it cannot be read.
func printLogTail(w io.Writer, path string, n int) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	fmt.Fprintf(w, "last lines of %s:\n", path)
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

func newDownCmd(env Env) *cobra.Command {
	var (
		name string
		all  bool
	)
	cmd := &cobra.Command{
		Use:   "down [--name LAB | --all]",
		Short: "Remove a lab: its processes, namespaces and state",
		Long: `Remove everything a lab made: every container labelled with the lab, the
node programs and the emulator (stopped by PID), every process in the lab's
namespaces or cgroup, the nodes' namespaces, the cgroup and the state
directory. It works on a half-made lab, after
crashes and from a damaged state file. It never removes what another lab
records as its own, even when that lab's namespaces start with this lab's
prefix. Needs root.

Without --name it removes the lab named "default", never "whichever lab is
up". When there is no such lab (a typo, or a lab already removed) it says so,
lists the labs that are up, removes nothing and exits with status 3, so
scripts can tell "not there" (3) from "failed" (1).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkNameFlag(cmd, name); err != nil {
				return err
			}
			if err := needRoot("gwlb-lab down"); err != nil {
				return err
			}
			m, err := newManager(env, cmd, false)
			if err != nil {
				return err
			}
			var names []string
			if all {
				if names, err = m.List(); err != nil {
					return err
				}
			} else {
				if name == "" {
					name = defaultLabName
				}
				names = []string{name}
			}
			var errs []error
			for _, n := range names {
				err := m.Down(cmd.Context(), n)
				switch {
				case errors.Is(err, lab.ErrNoLab):
					errs = append(errs, noLab(m, n))
				case err != nil:
					errs = append(errs, fmt.Errorf("lab %s: %w", n, err))
				default:
					fmt.Fprintf(cmd.OutOrStdout(), "lab %s removed\n", n)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", nameUsage+" (default \"default\")")
	cmd.Flags().BoolVar(&all, "all", false, "remove every lab")
	return cmd
}

func newStatusCmd(env Env) *cobra.Command {
	var (
		ref    = labRef{env: env}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "status [--name LAB] [--json]",
		Short: "Show a lab's nodes, processes, emulator health and drop counters",
		Long: `Show a lab's nodes, their programs (running, or the exit code once exited),
the emulator's health and the drop counters.

Exit status: 0 when the lab is fine; 4 when it is degraded (up, but its
emulator is not running or not answering: gwlb-lab emulator restart brings it
back); 3 when there is no such lab; 1 for any other error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, n, err := ref.open(cmd)
			if err != nil {
				return err
			}
			s, err := m.Status(cmd.Context(), n)
			if err != nil {
				return err
			}
			if err := output(cmd, asJSON, s, func(w io.Writer) error { return printStatus(w, s) }); err != nil {
				return err
			}
			if s.Degraded {
				fmt.Fprintf(cmd.ErrOrStderr(), "gwlb-lab: lab %s is degraded: %s\n", s.Lab, strings.Join(s.Problems, "; "))
				return &ExitError{Code: ExitDegraded}
			}
			return nil
		},
	}
	ref.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func printStatus(w io.Writer, s *lab.Status) error {
	fmt.Fprintf(w, "lab %s: %s (from %s, created %s)\n", s.Lab, s.Phase, s.File, s.Created.Local().Format("2006-01-02 15:04:05"))
	if s.Error != "" {
		fmt.Fprintf(w, "error: %s\n", s.Error)
	}
	e := s.Emulator
	health := "not running"
	switch {
	case e.Running && e.Answering:
		threads := ""
		if e.Threads > 0 { // an emulator of an older version does not say
			threads = ", " + plural(e.Threads, "thread")
		}
		health = fmt.Sprintf("running, answering (up %s, time scale %g%s)", e.Uptime, e.TimeScale, threads)
	case e.Running:
		health = "running, not answering: " + e.Error
	}
	fmt.Fprintf(w, "emulator: pid %d, %s; log %s\n", e.PID, health, e.Log)
	if s.Degraded {
		fmt.Fprintf(w, "DEGRADED: %s\n", strings.Join(s.Problems, "; "))
	}
	fmt.Fprintln(w)
	printNodes(w, s.Nodes)
	if s.Counters != nil {
		fmt.Fprintf(w, "\ndrops: %s\n", nonZero(s.Counters.Drops))
		printTAPDrops(w, s.Counters.Ports)
		printQueueFull(w, s.Counters.Ports)
		printPortFailures(w, s.Counters.Ports)
		printImpairedLinks(w, s.Counters.Ports)
		for _, m := range s.Counters.GWLB {
			fmt.Fprintf(w, "%s node %s (%s): ActiveFlowCount %d (of max_flows_per_node %d), NewFlowCount %d, ProcessedBytes %d, PeakBytesPerSecond %d, PeakPacketsPerSecond %d, HealthyHostCount %d, UnHealthyHostCount %d; drops: %s\n",
				m.GWLB, m.Node, m.AZ, m.ActiveFlowCount, m.MaxFlows, m.NewFlowCount, m.ProcessedBytes, m.PeakBytesPerSecond, m.PeakPacketsPerSecond,
				m.HealthyHostCount, m.UnHealthyHostCount, nonZero(m.Drops))
		}
	}
	return nil
}

// printTAPDrops lists the nodes whose TAP dropped frames (the kernel's
// counters of their eth0: tx_dropped, what the emulator did not read in
// time; rx_dropped, what the node refused), and the TAPs it could not ask.
func printTAPDrops(w io.Writer, ports []api.PortCounters) {
	var drops, errs []string
	for _, p := range ports {
		switch {
		case p.TAPError != "":
			errs = append(errs, fmt.Sprintf("%s: %s", p.Node, p.TAPError))
		case p.TAP != nil && (p.TAP.TxDropped != 0 || p.TAP.RxDropped != 0):
			drops = append(drops, fmt.Sprintf("%s tx_dropped=%d rx_dropped=%d", p.Node, p.TAP.TxDropped, p.TAP.RxDropped))
		}
	}
	if len(drops) > 0 {
		fmt.Fprintf(w, "tap queue drops: %s\n", strings.Join(drops, ", "))
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "tap counters unreadable: %s\n", strings.Join(errs, ", "))
	}
	// Offloads only show when something is amiss: a kernel that refused
	// them (the port still works, one packet per system call), frames
	// that could not be split, or coalescing turned off.
	var offs []string
	for _, p := range ports {
		o := p.Offload
		switch {
		case o == nil:
		case strings.Contains(o.Negotiated, "("):
			offs = append(offs, fmt.Sprintf("%s: %s", p.Node, o.Negotiated))
		case o.Dropped > 0 || o.CoalesceOff != "" || o.CoalesceUDPOff != "":
			msg := fmt.Sprintf("%s: %d frames dropped unsplit", p.Node, o.Dropped)
			if o.CoalesceOff != "" {
				msg += ", coalescing off (" + o.CoalesceOff + ")"
			}
			if o.CoalesceUDPOff != "" {
				msg += ", UDP coalescing off (" + o.CoalesceUDPOff + ")"
			}
			offs = append(offs, msg)
		}
	}
	if len(offs) > 0 {
		fmt.Fprintf(w, "tap offloads: %s\n", strings.Join(offs, ", "))
	}
}

// printQueueFull lists the nodes for which the emulator dropped frames
// because their port's write queue was full (port_queue_full).
func printQueueFull(w io.Writer, ports []api.PortCounters) {
	var out []string
	for _, p := range ports {
		if p.QueueFull > 0 {
			out = append(out, fmt.Sprintf("%s=%d", p.Node, p.QueueFull))
		}
	}
	if len(out) > 0 {
		fmt.Fprintf(w, "write queue full (the node takes frames more slowly than they come): %s\n", strings.Join(out, ", "))
	}
}

// printPortFailures lists the nodes whose port the emulator could not write
// to or stopped reading: traffic to or from them is lost, not just slow.
func printPortFailures(w io.Writer, ports []api.PortCounters) {
	var out []string
	for _, p := range ports {
		if p.WriteErrors > 0 {
			out = append(out, fmt.Sprintf("%s: %d writes failed (first: %s)", p.Node, p.WriteErrors, p.WriteError))
		}
		if p.ReadError != "" {
			out = append(out, fmt.Sprintf("%s: reading stopped (%s), nothing it sends is forwarded; gwlb-lab emulator restart starts it again", p.Node, p.ReadError))
		}
	}
	if len(out) > 0 {
		fmt.Fprintf(w, "port failures: %s\n", strings.Join(out, "; "))
	}
}

// nonZero renders the non-zero counters of m as "a=1 b=2", or "none".
func nonZero(m map[string]uint64) string {
	var out []string
	for k, v := range m {
		if v > 0 {
			out = append(out, fmt.Sprintf("%s=%d", k, v))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func printNodes(w io.Writer, nodes []lab.NodeStatus) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tKIND\tVPC/SUBNET\tADDRESS\tPUBLIC\tPROGRAM\tSTATE")
	for _, n := range nodes {
		where := "internet"
		if n.VPC != "" {
			where = n.VPC + "/" + n.Subnet
		}
		prog, state := "-", "-"
		if len(n.Program) > 0 {
			prog = n.Program[0]
			if i := strings.LastIndexByte(prog, '/'); i >= 0 {
				prog = prog[i+1:]
			}
			if len(n.Program) > 1 {
				prog += " " + n.Program[1]
			}
			state = "exited"
			if n.ExitCode != nil {
				state = fmt.Sprintf("exited (code %d)", *n.ExitCode)
				if n.ExitSignal != "" {
					state = fmt.Sprintf("exited (code %d, %s)", *n.ExitCode, n.ExitSignal)
				}
			}
			if n.Running {
				state = fmt.Sprintf("running (pid %d)", n.PID)
			}
			if n.Paused {
				state += ", paused"
			}
			if n.Restarts > 0 {
				state += fmt.Sprintf(", %d restarts", n.Restarts)
			}
		}
		if n.Container != "" {
			// Docker's PID changes on every restart; its state word is
			// what tells.
			state = "container " + n.ContainerState
		}
		pub := n.PublicIP
		if pub == "" {
			pub = "-"
		}
		kind := n.Kind
		switch {
		case n.Runtime && n.RuntimePhase == lab.PhaseUp:
			kind += " (added)" // at run time, by node add
		case n.Runtime:
			kind += " (adding)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, kind, where, n.Address, pub, prog, state)
	}
	tw.Flush()
}

func newNodesCmd(env Env) *cobra.Command {
	var (
		ref    = labRef{env: env}
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "nodes [--name LAB] [--json]",
		Short: "List a lab's nodes with their addresses and programs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, n, err := ref.open(cmd)
			if err != nil {
				return err
			}
			s, err := m.Status(cmd.Context(), n)
			if err != nil {
				return err
			}
			return output(cmd, asJSON, s.Nodes, func(w io.Writer) error { printNodes(w, s.Nodes); return nil })
		},
	}
	ref.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as JSON")
	return cmd
}

func newInspectCmd(env Env) *cobra.Command {
	ref := labRef{env: env}
	cmd := &cobra.Command{
		Use:   "inspect [--name LAB] [NODE]",
		Short: "Print a lab's resolved topology, or one node of it, as JSON",
		Long: `Print the resolved topology of a running lab (every default applied, every
name, address and MAC final) as JSON; with NODE, only that node.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, n, err := ref.open(cmd)
			if err != nil {
				return err
			}
			l, err := m.Resolved(n)
			if err != nil {
				return err
			}
			if len(args) == 0 {
				return writeJSON(cmd.OutOrStdout(), l)
			}
			node, ok, err := m.Node(n, args[0]) // added at run time too
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("lab %q has no node %q", n, args[0])
			}
			return writeJSON(cmd.OutOrStdout(), node)
		},
	}
	ref.register(cmd.Flags())
	return cmd
}

func newExecCmd(env Env) *cobra.Command {
	ref := labRef{env: env}
	cmd := &cobra.Command{
		Use:   "exec [--name LAB] NODE -- CMD [ARG...]",
		Short: "Run a command inside a node's network namespace",
		Long: `Run a command inside a node's network namespace, attached to this terminal,
and exit with its exit code. In a container node it runs in the node's
container (docker exec), with the image's files. As in a shell, a program that is not there
exits 127 and one that cannot be run (not executable) 126.
Example: gwlb-lab exec client -- curl -s http://203.0.113.10/`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, n, err := ref.open(cmd)
			if err != nil {
				return err
			}
			argv := args[1:]
			if argv[0] == "--" {
				argv = argv[1:]
			}
			if len(argv) == 0 {
				return errors.New("no command given: gwlb-lab exec NODE -- CMD [ARG...]")
			}
			code, err := m.Exec(cmd.Context(), n, args[0], argv, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code, ok := cannotRun(err); ok {
				// As a shell says it: the program, then why.
				fmt.Fprintf(cmd.ErrOrStderr(), "gwlb-lab: %s: %s\n", argv[0], cannotRunReason(code))
				return &ExitError{Code: code}
			}
			if err != nil {
				return err
			}
			if code != 0 {
				return &ExitError{Code: code}
			}
			return nil
		},
	}
	ref.register(cmd.Flags())
	// Everything after NODE belongs to the command, flags included.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// cannotRun maps an error of starting a program to a shell's exit status:
// 127 when there is no such program, 126 when it is there but cannot be run.
// Only errors of the exec itself count: a missing lab or node is not a
// missing program.
func cannotRun(err error) (int, bool) {
	if errors.Is(err, exec.ErrNotFound) {
		return ExitNotFound, true
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Op != "fork/exec" {
		return 0, false
	}
	switch {
	case errors.Is(pe.Err, syscall.ENOENT), errors.Is(pe.Err, syscall.ENOTDIR):
		return ExitNotFound, true
	case errors.Is(pe.Err, syscall.EACCES), errors.Is(pe.Err, syscall.ENOEXEC), errors.Is(pe.Err, syscall.EISDIR), errors.Is(pe.Err, syscall.EPERM):
		return ExitNotExecutable, true
	}
	return 0, false
}

func cannotRunReason(code int) string {
	if code == ExitNotFound {
		return "command not found"
	}
	return "cannot run it (permission denied or not an executable)"
}
