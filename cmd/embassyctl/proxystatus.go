package main

import (
	"time"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/cli"
)

func newProxyStatusCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "proxy-status [-o table|json]",
		Short: "Show whether each connected proxy accepted its configuration",
		Long: `proxy-status lists every proxy connected to embassy-cp (Envoy sidecars and
proxyless gRPC clients) with, per xDS type (CDS clusters, LDS listeners,
EDS endpoints, RDS routes), one of:

  SYNCED    the proxy acked the version last sent
  NACKED    the proxy rejected a response after its last ack; see
            -o json for the proxy's message
  STALE     a version was sent and not acked for more than 5s
  PENDING   a version was sent moments ago, the ack is on its way
  NOT_SENT  nothing of this type was sent (proxyless clients ask for
            fewer types)` + exitCodesHelp,
		Example: `  embassyctl proxy-status
  embassyctl proxy-status -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			ps, err := c.Proxies(cmd.Context())
			if err != nil {
				return err
			}
			return cli.PrintProxyStatus(g.stdout, output, ps, time.Now())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", cli.OutputTable, "table or json")
	return cmd
}
