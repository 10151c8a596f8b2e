// Command gwlb-lab runs and manages local AWS Gateway Load Balancer labs.
//
// It is deliberately thin: it sets up a signal-aware context and hands the
// arguments to lab/cli, which owns every subcommand.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/gwlb-lab/gwlb-lab/lab/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, cli.Env{
		Args:    os.Args[1:],
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Version: version,
	})
	stop()
	os.Exit(code)
}
