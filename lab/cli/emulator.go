package cli

import (
	"fmt"
	"log/slog"

	"github.com/gwlb-lab/gwlb-lab/emulator/config"
	"github.com/gwlb-lab/gwlb-lab/emulator/daemon"
	"github.com/gwlb-lab/gwlb-lab/emulator/fabric"
	"github.com/gwlb-lab/gwlb-lab/emulator/port"
	"github.com/spf13/cobra"
)

func newEmulatorCmd(env Env) *cobra.Command {
	var cfgPath string
	cmd := &cobra.Command{
		Use:   "emulator --config FILE",
		Short: "Run a lab's emulator in the foreground (gwlb-lab up starts it for you)",
		Long: `Run the emulator of one lab in the foreground: load the resolved configuration
that gwlb-lab up wrote (/run/gwlb-lab/<lab>/emulator.json), attach to every
node's TAP, forward like a VPC and answer on the control socket until SIGINT
or SIGTERM. gwlb-lab up starts it in the background; run it yourself when the
nodes live elsewhere (containers) or to watch its log.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := needRoot("gwlb-lab emulator"); err != nil {
				return err
			}
			snap, err := config.Load(cfgPath)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			d, err := daemon.New(snap, func(e config.ENI) (fabric.Port, error) {
				return port.OpenTAP(e.NetNS, e.Interface)
			})
			if err != nil {
				return err
			}
			log.Info("emulator running", "lab", snap.Lab, "ports", len(snap.AllENIs()), "control", snap.ControlSocket, "time_scale", snap.TimeScale)
			err = d.Run(cmd.Context())
			log.Info("emulator stopped", "error", err)
			if err != nil {
				return fmt.Errorf("emulator: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "the lab's emulator configuration (JSON)")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}
