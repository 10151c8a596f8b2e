package cli

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/daemon"
	"github.com/gwlb-lab/gwlb-lab/lab/supervise"
	"github.com/spf13/cobra"
)

func newEmulatorCmd(env Env) *cobra.Command {
	var (
		cfgPath, editsPath, cpuProfile string
		handshakeFD, procs             int
	)
	cmd := &cobra.Command{
		Use:   "emulator --config FILE",
		Short: "Run a lab's emulator in the foreground (gwlb-lab up starts it for you)",
		Long: `Run the emulator of one lab in the foreground: load the resolved configuration
that gwlb-lab up wrote (/run/gwlb-lab/<lab>/emulator.json), attach to every
node's TAP, forward like a VPC and answer on the control socket until SIGINT
or SIGTERM. gwlb-lab up starts it in the background; run it yourself when the
nodes live elsewhere (containers) or to watch its log.

With --edits, the runtime edits (link set, targets fail-health, route add ...)
are kept in that file as they are made, and applied again when an emulator
starts with it: up passes /run/gwlb-lab/<lab>/runtime-edits.json, so emulator
restart keeps them; down removes it with the lab.

--procs sets how many threads run the emulator's Go code at once (its
GOMAXPROCS), and with it how many queues of each node's TAP it reads (at most
2). By default it takes half of the CPUs it may use, at least one: the nodes'
programs and network stacks (the appliance, the client and the server) need
the other half, and on a machine with two CPUs one thread forwards faster than
two that wake each other (docs/benchmarks.md in the source). Without --procs
or $GWLB_LAB_EMULATOR_PROCS, GOMAXPROCS in the environment, when set, is kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needRoot("gwlb-lab emulator"); err != nil {
				return err
			}
			if handshakeFD >= 0 {
				// Started by up or emulator restart: run only once recorded.
				if err := supervise.AwaitRecorded(handshakeFD); err != nil {
					return err
				}
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			if procs < 0 {
				return fmt.Errorf("--procs %d (or $%s): want 0 for automatic, or more", procs, procsEnv)
			}
			// Before the TAPs are opened: how many queues each is read
			// on follows it.
			runtime.GOMAXPROCS(emulatorProcs(procs, os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0)))
			snap, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			d, err := daemon.New(snap, daemon.OpenTAP)
			if err != nil {
				return err
			}
			d.SetLog(log)
			if len(snap.AutoScalingGroups) > 0 {
				// The groups' instances are nodes made by this program's
				// node add and node remove (spec §13).
				bin, err := os.Executable()
				if err != nil {
					return fmt.Errorf("auto scaling groups need this program's path: %w", err)
				}
				m, err := newManager(env, cmd, true)
				if err != nil {
					return err
				}
				// Nodes outlive the emulator: what node add starts must
				// not inherit the descriptors up passed (the hold file by
				// which emulator restart and down find the emulator).
				for fd := 3; fd < 1024; fd++ {
					syscall.CloseOnExec(fd)
				}
				d.SetActuator(newNodeActuator(bin, snap.Lab, m))
			}
			if editsPath != "" {
				if err := d.KeepEdits(editsPath); err != nil {
					log.Warn("runtime edits", "error", err)
				}
			}
			log.Info("emulator running", "lab", snap.Lab, "ports", len(snap.AllENIs()), "control", snap.ControlSocket, "time_scale", snap.TimeScale, "procs", runtime.GOMAXPROCS(0))
			err = d.Run(cmd.Context())
			log.Info("emulator stopped", "error", err)
			if err != nil {
				return fmt.Errorf("emulator: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "the lab's emulator configuration (JSON)")
	cmd.Flags().StringVar(&editsPath, "edits", "", "keep runtime edits in this file, and apply the ones it holds at start")
	cmd.Flags().StringVar(&cpuProfile, "cpuprofile", os.Getenv(cpuProfileEnv),
		"write a Go CPU profile of the emulator to this file until it stops (default $"+cpuProfileEnv+", which up passes on to the emulator it starts)")
	cmd.Flags().IntVar(&procs, "procs", envInt(procsEnv),
		"threads that run the emulator at once, 0 for half the CPUs (default $"+procsEnv+", which up passes on to the emulator it starts, else 0)")
	cmd.Flags().IntVar(&handshakeFD, "handshake-fd", -1, "wait for one byte on this descriptor before starting (internal)")
	_ = cmd.Flags().MarkHidden("handshake-fd")
	_ = cmd.MarkFlagRequired("config")
	cmd.AddCommand(newEmulatorRestartCmd(env))
	return cmd
}

func newEmulatorRestartCmd(env Env) *cobra.Command {
	ref := labRef{env: env}
	cmd := &cobra.Command{
		Use:   "restart [--name LAB]",
		Short: "Start a lab's emulator again after it died (flows are lost)",
		Long: `Start the emulator of a lab that is up again, with the same configuration, on
the same TAP interfaces and the same control socket; a running emulator is
stopped first. Use it when status says the lab is degraded because the
emulator died.

What the old emulator held in memory is lost: GWLB flows (the next packet of
an existing connection is hashed anew and may reach another appliance), NAT
gateway mappings, target health (targets start initial again and turn healthy
on their first answered check, as when a lab starts) and counters. Node
programs keep running. Runtime edits (link set, targets fail-health, route
add|replace|delete) are kept and applied again. Needs root.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkNameFlag(cmd, ref.name); err != nil {
				return err
			}
			if err := needRoot("gwlb-lab emulator restart"); err != nil {
				return err
			}
			m, name, err := ref.open(cmd)
			if err != nil {
				return err
			}
			pr, err := m.RestartEmulator(cmd.Context(), name)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lab %s: emulator restarted (pid %d); flows, NAT mappings, health states and counters start afresh; runtime edits apply again\n", name, pr.PID)
			return nil
		},
	}
	ref.register(cmd.Flags())
	return cmd
}

// cpuProfileEnv names the file an emulator writes its CPU profile to when
// set in the environment of up (or of the emulator itself).
const cpuProfileEnv = "GWLB_LAB_EMULATOR_CPUPROFILE"

// procsEnv sets the emulator's --procs through the environment of up (or
// of emulator restart).
const procsEnv = "GWLB_LAB_EMULATOR_PROCS"

// envInt is the integer in the environment variable name, 0 when it is
// unset; a value that is not a number gives -1, which --procs refuses.
func envInt(name string) int {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return -1
	}
	return n
}

// emulatorProcs is the GOMAXPROCS the emulator runs with: flag when it is
// set, the Go runtime's own choice (current) when GOMAXPROCS is set in the
// environment (goEnv), else half of current, at least 1.
func emulatorProcs(flag int, goEnv string, current int) int {
	switch {
	case flag > 0:
		return flag
	case goEnv != "":
		return current
	default:
		return max(1, current/2)
	}
}

// startCPUProfile profiles this process into path until stop is called.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
