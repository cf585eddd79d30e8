// Command embassy-agent runs beside a workload's Envoy sidecar: it writes
// the sidecar's bootstrap, pointed at embassy-cp, and with --envoy-bin it
// starts Envoy and restarts it if it exits.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/agent"
	"embassy.dev/embassy/pkg/bootstrap"
	elog "embassy.dev/embassy/pkg/log"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "embassy-agent:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	var (
		cp, workload, bootPath, envoyBin, adminAddr, logLevel string
		logJSON                                               bool
	)
	cmd := &cobra.Command{
		Use:   "embassy-agent --cp ADDR --workload NAME.NAMESPACE --envoy-bootstrap PATH [--envoy-bin PATH]",
		Short: "Per-workload agent: writes the Envoy bootstrap and supervises Envoy",
		Long: `embassy-agent runs on the workload's node. It writes the Envoy bootstrap of
the workload's sidecar (node id NAME.NAMESPACE, ADS to embassy-cp, admin on
loopback) to --envoy-bootstrap, atomically. With --envoy-bin it then starts
Envoy with that bootstrap and restarts it, with backoff, whenever it exits,
until the agent is stopped.`,
		Example: `  # Write the bootstrap only
  embassy-agent --cp 127.0.0.1:15010 --workload web-1.shop --envoy-bootstrap /run/embassy/envoy.yaml

  # Write it and run Envoy
  embassy-agent --cp 10.0.0.2:15010 --workload web-1.shop --envoy-bootstrap /run/embassy/envoy.yaml --envoy-bin /usr/local/bin/envoy`,
		SilenceUsage: true,
		Args:         cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if workload == "" || bootPath == "" {
				return fmt.Errorf("--workload and --envoy-bootstrap are required (see --help)")
			}
			log := elog.New("embassy-agent", elog.Options{Level: logLevel, JSON: logJSON}).Named(elog.Agent)
			o := bootstrap.EnvoyOptions{NodeID: workload, XDSAddress: cp, AdminAddress: adminAddr}
			if err := agent.WriteEnvoyBootstrap(bootPath, o); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "embassy-agent: wrote the Envoy bootstrap of %s to %s\n", workload, bootPath)
			if envoyBin == "" {
				return nil
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return (&agent.Supervisor{Bin: envoyBin, Bootstrap: bootPath, Logger: log}).Run(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cp, "cp", "127.0.0.1:15010", "embassy-cp's xDS address (host:port)")
	f.StringVar(&workload, "workload", "", "this workload as NAME.NAMESPACE (the sidecar's node id)")
	f.StringVar(&bootPath, "envoy-bootstrap", "", "where to write the Envoy bootstrap")
	f.StringVar(&envoyBin, "envoy-bin", "", "start and supervise this envoy binary with the bootstrap")
	f.StringVar(&adminAddr, "envoy-admin", "127.0.0.1:15100", "Envoy's admin address (loopback only)")
	f.StringVar(&logLevel, "log-level", "info", "log level: trace, debug, info, warn or error")
	f.BoolVar(&logJSON, "log-json", false, "log one JSON object per line")
	return cmd
}
