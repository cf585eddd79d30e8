package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/client"
)

func newProxyStatusCmd(g *globals) *cobra.Command {
	var (
		output string
		check  bool
		filter client.ProxyFilter
	)
	cmd := &cobra.Command{
		Use:   "proxy-status [-o table|json|yaml] [--check]",
		Short: "Show whether each connected proxy accepted its configuration",
		Long: `proxy-status lists every proxy connected to embassy-cp (Envoy sidecars and
proxyless gRPC clients) with, per xDS type (CDS clusters, LDS listeners,
EDS endpoints, RDS routes), the state the server judged:

  SYNCED    the proxy acked the version last sent
  NACKED    the proxy rejected a response after its last ack; see
            -o json for the proxy's message
  STALE     a version was sent and not acked within embassy-cp's
            --stale-after (default 10s)
  PENDING   a version was sent moments ago, the ack is on its way
  NOT_SENT  nothing of this type was sent (proxyless clients ask for
            fewer types)

--check exits 1 when any proxy is NACKED or STALE, and names them on
stderr, for scripts and CI.` + exitCodesHelp,
		Example: `  embassyctl proxy-status
  embassyctl proxy-status --service echo.default
  embassyctl proxy-status --state NACKED -o yaml
  embassyctl proxy-status --check`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ps, err := c.ListProxies(cmd.Context(), filter)
			if err != nil {
				return err
			}
			now := time.Now()
			if err := cli.PrintProxyStatusWith(g.stdout, output, ps, now, cli.ProxyStatusOptions{Colour: colourful(g.stdout)}); err != nil {
				return err
			}
			if !check {
				return nil
			}
			if bad := cli.Unhealthy(ps, now); len(bad) > 0 {
				fmt.Fprintf(g.stderr, "embassyctl: %d proxy type(s) NACKED or STALE:\n  %s\n", len(bad), strings.Join(bad, "\n  "))
				return &cli.ExitError{Code: cli.ExitFailure, Err: errors.New("proxies are NACKED or STALE"), Silent: true}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", cli.OutputTable, "table, json or yaml")
	cmd.Flags().BoolVar(&check, "check", false, "exit 1 when any proxy is NACKED or STALE")
	cmd.Flags().StringVar(&filter.Service, "service", "", "only proxies whose workload backs this service (name or name.namespace)")
	cmd.Flags().StringVar(&filter.State, "state", "", "only proxies with a type in this state (SYNCED, NACKED, STALE, PENDING, NOT_SENT)")
	return cmd
}
