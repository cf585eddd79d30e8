package main

import (
	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/bootstrap"
)

func newBootstrapCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bootstrap (envoy|grpc) --workload NAME.NS",
		Short: "Print a bootstrap for an Envoy sidecar or a proxyless gRPC client",
		Long: `bootstrap prints the configuration a data-plane process starts from: it
names the node (<workload>.<namespace>, matching a Workload resource) and
points it at embassy-cp's ADS server. It works offline.` + exitCodesHelp,
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
		Use:   "envoy --workload NAME.NS [--xds-address HOST:PORT] [--socket-dir DIR] [--trust-domain TD] [--insecure]",
		Short: "Print an Envoy sidecar's bootstrap YAML",
		Long: `envoy prints the bootstrap YAML for the Envoy sidecar of a workload; run
Envoy with it as -c. The node id is the --workload value.` + exitCodesHelp,
		Example: `  embassyctl bootstrap envoy --workload echo-1.default > envoy.yaml
  envoy -c envoy.yaml`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if _, _, err := bootstrap.ParseEnvoyNodeID(workload); err != nil {
				return err
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
	cmd.Flags().StringVar(&xds, "xds-address", bootstrap.DefaultXDSAddress, "embassy-cp's xDS address")
	cmd.Flags().StringVar(&admin, "admin-address", bootstrap.DefaultAdminAddress, "Envoy's admin listener address")
	cmd.Flags().StringVar(&socketDir, "socket-dir", bootstrap.DefaultSocketDir, "the agent's socket directory (its SDS socket serves the workload's certificate)")
	cmd.Flags().StringVar(&trustDomain, "trust-domain", bootstrap.DefaultTrustDomain, "the mesh's trust domain; xDS accepts only embassy-cp's SPIFFE ID in it")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "plaintext xDS, for a control plane run with --insecure-xds")
	_ = cmd.MarkFlagRequired("workload")
	return cmd
}

func newBootstrapGRPCCmd(g *globals) *cobra.Command {
	var workload, xds, certDir string
	var insecure bool
	cmd := &cobra.Command{
		Use:   "grpc --workload NAME.NS [--xds-address HOST:PORT] [--cert-dir DIR] [--insecure]",
		Short: "Print a proxyless gRPC client's bootstrap JSON",
		Long: `grpc prints the xDS bootstrap JSON for a proxyless gRPC application; point
GRPC_XDS_BOOTSTRAP at the file and dial xds:///<service>.<namespace>:<port>.` + exitCodesHelp,
		Example: `  embassyctl bootstrap grpc --workload client.default > bootstrap.json
  GRPC_XDS_BOOTSTRAP=bootstrap.json ./client -target xds:///echo.default:8080`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if _, _, err := bootstrap.ParseEnvoyNodeID(workload); err != nil {
				return err
			}
			b, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: workload, XDSAddress: xds, CertDir: certDir, Insecure: insecure})
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&workload, "workload", "", "the workload as NAME.NAMESPACE (the node id)")
	cmd.Flags().StringVar(&xds, "xds-address", bootstrap.DefaultXDSAddress, "embassy-cp's xDS address")
	cmd.Flags().StringVar(&certDir, "cert-dir", "", "the agent's directory of PEM files; set, it makes the xDS stream mTLS (mesh mTLS reads them from "+bootstrap.DefaultSocketDir+" when unset)")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "plaintext xDS even with --cert-dir, for a control plane run with --insecure-xds")
	_ = cmd.MarkFlagRequired("workload")
	return cmd
}
