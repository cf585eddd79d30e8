package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/status"
)

func newProxyStatusCmd(g *globals) *cobra.Command {
	var (
		output string
		check  bool
		config bool
		filter client.ProxyFilter
	)
	cmd := &cobra.Command{
		Use:   "proxy-status [ID] [-o table|json|yaml] [--check] [--config]",
		Short: "Show whether each connected proxy accepted its configuration",
		Long: `proxy-status lists every proxy connected to embassy-cp (Envoy sidecars and
proxyless gRPC clients, and agents) with, per xDS type (CDS clusters, LDS
listeners, EDS endpoints, RDS routes, AUTHZ an agent's policy bundles),
the state the server judged:

  SYNCED       the proxy acked the version last sent
  NACKED       the proxy rejected a response after its last ack; see
               -o json for the proxy's message
  STALE        a version was sent and not acked within embassy-cp's
               --stale-after (default 10s)
  PENDING      a version was sent moments ago, the ack is on its way
  NOT_SENT     the proxy asked for this type (a sidecar asks for every
               routing type) and nothing of it was sent
  NO_WORKLOAD  an agent whose node id names no Workload of the mesh (a
               client-only app's, or one whose registration is not in
               yet): no policy can target it, so no bundle is sent
  -            the proxy does not ask for this type: an agent's routing
               types, a sidecar's policy bundles, a proxyless server's
               clusters

With ID (a node id, "<workload>.<namespace>"), only that proxy's rows are
shown (a workload's app and its agent share the id), followed by each
type's last NACK message. --config prints, instead, what the control plane
sent the proxy: Envoy's config dump and the diff from what it last acked
(GET /v1/proxies/{id}/config).

--check exits 1 when any proxy is NACKED or STALE, and names them on
stderr, for scripts and CI.` + exitCodesHelp,
		Example: `  embassyctl proxy-status
  embassyctl proxy-status echo-v1.default
  embassyctl proxy-status echo-v1.default --config
  embassyctl proxy-status --service echo.default
  embassyctl proxy-status --state NACKED -o yaml
  embassyctl proxy-status --check`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if config && len(args) == 0 {
				return errors.New("--config needs a proxy ID: embassyctl proxy-status ID --config")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if config {
				return printProxyConfig(cmd.Context(), g, c, args[0])
			}
			ps, err := c.ListProxies(cmd.Context(), filter)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				if ps, err = onlyProxy(ps, args[0]); err != nil {
					return err
				}
			}
			now := time.Now()
			if err := cli.PrintProxyStatusWith(g.stdout, output, ps, now, cli.ProxyStatusOptions{Colour: colourful(g.stdout)}); err != nil {
				return err
			}
			if len(args) == 1 && output == cli.OutputTable {
				cli.PrintNacks(g.stdout, ps)
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
	cmd.Flags().BoolVar(&config, "config", false, "print what the control plane sent proxy ID (config dump and diff from its last ack) as JSON")
	cmd.Flags().StringVar(&filter.Service, "service", "", "only proxies whose workload backs this service (name or name.namespace)")
	cmd.Flags().StringVar(&filter.State, "state", "", "only proxies with a type in this state (SYNCED, NACKED, STALE, PENDING, NOT_SENT, NO_WORKLOAD)")
	return cmd
}

// onlyProxy keeps the proxies of node id id: a workload's app and its
// agent share it. None connected is an error that says where to look.
func onlyProxy(ps []status.Proxy, id string) ([]status.Proxy, error) {
	var out []status.Proxy
	for _, p := range ps {
		if p.ID == id {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no proxy %q is connected (with the filters given): embassyctl proxy-status lists the connected ones", id)
	}
	return out, nil
}

// printProxyConfig prints the API's config dump of one proxy, indented.
func printProxyConfig(ctx context.Context, g *globals, c *client.Client, id string) error {
	raw, err := c.ProxyConfig(ctx, id)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return fmt.Errorf("the config of %s is not JSON: %w", id, err)
	}
	b.WriteByte('\n')
	_, err = g.stdout.Write(b.Bytes())
	return err
}
