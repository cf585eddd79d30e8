package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/bootstrap"
	"embassy.dev/embassy/pkg/dataplane"
)

func newBootstrapCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bootstrap (envoy|grpc) --workload NAME.NS",
		Short: "Print a bootstrap for an Envoy sidecar or a proxyless gRPC client",
		Long: `bootstrap prints the configuration a data-plane process starts from: it
names the node (<workload>.<namespace>, matching a Workload resource) and
points it at embassy-cp's ADS server. What it does not know from its flags
(the xDS address and, for Envoy, the mesh's trust domain) it asks the
control plane it talks to (GET /v1/status, a read token is enough); with
those flags set it works offline.` + exitCodesHelp,
		Example: `  embassyctl bootstrap envoy --workload echo-1.default > envoy.yaml
  embassyctl bootstrap grpc --workload client.default > bootstrap.json
  GRPC_XDS_BOOTSTRAP=bootstrap.json ./client`,
	}
	cmd.AddCommand(newBootstrapEnvoyCmd(g), newBootstrapGRPCCmd(g))
	return cmd
}

func newBootstrapEnvoyCmd(g *globals) *cobra.Command {
	var workload, xds, admin, socketDir, trustDomain string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "envoy --workload NAME.NS [--xds-address HOST:PORT] [--trust-domain TD] [--socket-dir DIR] [--admin-address IP:PORT] [--insecure]",
		Short: "Print an Envoy sidecar's bootstrap YAML",
		Long: `envoy prints the bootstrap YAML for the Envoy sidecar of a workload; run
Envoy with it as -c. The node id is the --workload value. The xDS address
and the trust domain come from the control plane unless given; give every
replica's address, comma-separated, and Envoy reconnects to another when
its replica goes. Everything
else is the workload's own, so sidecars on one host never collide: the
agent's sockets are in ` + dataplane.SocketDir("<workload>.<namespace>") + ` and the admin API is
the unix socket ` + bootstrap.AdminSocket + ` there.` + exitCodesHelp,
		Example: `  embassyctl bootstrap envoy --workload echo-1.default > envoy.yaml
  embassyctl bootstrap envoy --workload echo-1.default --xds-address 10.0.0.2:15010 --trust-domain example.org
  embassyctl bootstrap envoy --workload echo-1.default --xds-address 10.0.0.1:15010,10.0.0.2:15010,10.0.0.3:15010
  envoy -c envoy.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := dataplane.ParseNodeID(workload); err != nil {
				return err
			}
			needTD := trustDomain == "" && !insecure
			if xds == "" || needTD {
				cp, err := askControlPlane(cmd.Context(), g)
				if err != nil {
					return err
				}
				if xds == "" {
					xds = cp.xdsAddress
				}
				if needTD {
					if trustDomain = cp.trustDomain; trustDomain == "" {
						return fmt.Errorf("the control plane at %s reports no trust domain (it runs without a CA); pass --trust-domain, or --insecure for one run with --insecure-xds", g.server)
					}
				}
			}
			b, err := bootstrap.EnvoyYAML(bootstrap.EnvoyOptions{NodeID: workload, XDSAddress: xds, AdminAddress: admin,
				SocketDir: socketDir, TrustDomain: trustDomain, Insecure: insecure})
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&workload, "workload", "", "the workload as NAME.NAMESPACE (the Envoy node id)")
	cmd.Flags().StringVar(&xds, "xds-address", "", "embassy-cp's xDS address, or every replica's, comma-separated (default: the one the control plane reports)")
	cmd.Flags().StringVar(&admin, "admin-address", "", "Envoy's admin API on a loopback ip:port (default: the unix socket "+bootstrap.AdminSocket+" in --socket-dir); pick a port no app or service of the host uses")
	cmd.Flags().StringVar(&socketDir, "socket-dir", "", "the agent's socket directory (default "+dataplane.SocketDir("<workload>")+"; its SDS socket serves the workload's certificate)")
	cmd.Flags().StringVar(&trustDomain, "trust-domain", "", "the mesh's trust domain; xDS accepts only embassy-cp's SPIFFE ID in it (default: the one the control plane reports)")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "plaintext xDS, for a control plane run with --insecure-xds")
	_ = cmd.MarkFlagRequired("workload")
	return cmd
}

func newBootstrapGRPCCmd(g *globals) *cobra.Command {
	var workload, xds, certDir, relayDir string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "grpc --workload NAME.NS [--xds-address HOST:PORT | --xds-relay SOCKETDIR] [--cert-dir DIR] [--insecure]",
		Short: "Print a proxyless gRPC client's bootstrap JSON",
		Long: `grpc prints the xDS bootstrap JSON for a proxyless gRPC application; point
GRPC_XDS_BOOTSTRAP at the file and dial xds:///<service>.<namespace>:<port>.
The xDS address comes from the control plane unless given. Several replicas'
addresses, comma-separated, are gRPC's xds_servers in that order: gRPC moves
to the next only when a stream fails before its first answer while it still
waits for a resource; a client that has its configuration keeps it, and keeps
serving, until its server is back.

With --xds-relay the client's one xDS server is its agent's relay socket,
` + dataplane.XDSRelaySocket + ` in the agent's --socket-dir: the agent carries the stream to the
first replica of its --cp list that answers, and when that replica dies the
client reconnects through the agent to the next, so changes keep reaching
it. The socket is local (plaintext, open to the agent's group); upstream the
agent presents the workload's SVID. No control plane is asked.` + exitCodesHelp,
		Example: `  embassyctl bootstrap grpc --workload client.default > bootstrap.json
  embassyctl bootstrap grpc --workload client.default --xds-address 10.0.0.1:15010,10.0.0.2:15010 > bootstrap.json
  embassyctl bootstrap grpc --workload client.default --xds-relay ` + dataplane.SocketDir("client.default") + ` > bootstrap.json
  GRPC_XDS_BOOTSTRAP=bootstrap.json ./client -target xds:///echo.default:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := dataplane.ParseNodeID(workload); err != nil {
				return err
			}
			switch {
			case relayDir != "" && (xds != "" || insecure):
				return fmt.Errorf("--xds-relay sends xDS through the agent, which reaches the control plane over mTLS itself: drop --xds-address and --insecure (give the agent --cp instead)")
			case relayDir == "" && xds == "":
				cp, err := askControlPlane(cmd.Context(), g)
				if err != nil {
					return err
				}
				xds = cp.xdsAddress
			}
			b, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: workload, XDSAddress: xds, CertDir: certDir, Insecure: insecure, XDSRelayDir: relayDir})
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&workload, "workload", "", "the workload as NAME.NAMESPACE (the node id)")
	cmd.Flags().StringVar(&xds, "xds-address", "", "embassy-cp's xDS address, or every replica's, comma-separated (default: the one the control plane reports)")
	cmd.Flags().StringVar(&certDir, "cert-dir", "", "the agent's directory of PEM files; set, it makes the xDS stream mTLS (mesh mTLS reads them from "+dataplane.SocketDir("<workload>")+" when unset)")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "plaintext xDS even with --cert-dir, for a control plane run with --insecure-xds")
	cmd.Flags().StringVar(&relayDir, "xds-relay", "", "the agent's socket directory (absolute): xDS goes through its relay socket "+dataplane.XDSRelaySocket+", which fails over between the agent's --cp replicas")
	_ = cmd.MarkFlagRequired("workload")
	return cmd
}

// controlPlaneFacts is what a bootstrap needs from the control plane.
type controlPlaneFacts struct{ xdsAddress, trustDomain string }

// askControlPlane reads the xDS address and trust domain from the control
// plane's status. A wildcard listen host (0.0.0.0, ::) is replaced by the
// host the API was reached at, which serves xDS too.
func askControlPlane(ctx context.Context, g *globals) (controlPlaneFacts, error) {
	c, err := g.client()
	if err != nil {
		return controlPlaneFacts{}, err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return controlPlaneFacts{}, fmt.Errorf("asking the control plane at %s for its xDS address and trust domain: %w (pass --xds-address and --trust-domain to write the bootstrap offline)", g.server, err)
	}
	return controlPlaneFacts{xdsAddress: reachableXDS(st.XDSAddress, g.server), trustDomain: st.TrustDomain}, nil
}

// reachableXDS turns the address xDS listens on into one to dial: a
// wildcard host becomes the API server's host.
func reachableXDS(listen, server string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsUnspecified() {
		return listen
	}
	u, err := url.Parse(server)
	if err != nil || u.Hostname() == "" {
		return listen
	}
	return net.JoinHostPort(u.Hostname(), port)
}
