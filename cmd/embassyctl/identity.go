package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/api"
	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/client"
)

func newTokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke join tokens for embassy-agent",
		Long: `A join token lets one embassy-agent prove which identity it may hold:
spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>. The agent
redeems it once for its first SVID and renews with its certificate after
that. Tokens are stored hashed; every token command needs the admin token.` + exitCodesHelp,
	}
	cmd.AddCommand(newTokenCreateCmd(g), newTokenListCmd(g), newTokenRevokeCmd(g))
	return cmd
}

func newTokenCreateCmd(g *globals) *cobra.Command {
	var req api.TokenCreateRequest
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "create --namespace NS --service-account SA [--workload NAME] [--ttl 1h] [--single-use]",
		Short: "Create a join token; only the token goes to stdout",
		Long: `create makes a join token for one identity and prints the token alone on
stdout, so it can go straight to a file; what it grants is printed on
stderr. The token is shown this once: the control plane keeps only its
hash. --workload limits the agent to registering that one workload name.` + exitCodesHelp,
		Example: `  embassyctl token create --namespace default --service-account echo --workload echo-v1 --single-use > echo-v1.token
  embassyctl token create -n shop --service-account web --ttl 24h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Namespace == "" || req.ServiceAccount == "" {
				return fmt.Errorf("--namespace and --service-account are required: the token grants spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>")
			}
			if ttl < 0 {
				return fmt.Errorf("--ttl %s is negative: use a positive duration, or 0 for a token that never expires", ttl)
			}
			req.TTL = ttl.String()
			c, err := g.client()
			if err != nil {
				return err
			}
			out, err := c.CreateToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			fmt.Fprintln(g.stdout, out.Token)
			fmt.Fprintf(g.stderr, "created join token %s for ns %s, sa %s%s, %s%s\n", out.Info.ID, out.Info.Namespace, out.Info.ServiceAccount,
				workloadNote(out.Info.Workload), expiryNote(out.Info.ExpiresAt), singleUseNote(out.Info.SingleUse))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&req.Namespace, "namespace", "n", "", "namespace of the identity the token grants (required)")
	f.StringVar(&req.ServiceAccount, "service-account", "", "service account of the identity the token grants (required)")
	f.StringVar(&req.Workload, "workload", "", "the only workload name the agent may register (default: any)")
	f.DurationVar(&ttl, "ttl", time.Hour, "how long the token may be redeemed (0: never expires)")
	f.BoolVar(&req.SingleUse, "single-use", false, "the token may be redeemed once")
	return cmd
}

func workloadNote(w string) string {
	if w == "" {
		return ""
	}
	return ", workload " + w
}

func expiryNote(exp *time.Time) string {
	if exp == nil {
		return "never expires"
	}
	return "expires " + exp.Local().Format(time.RFC3339)
}

func singleUseNote(single bool) string {
	if single {
		return ", single use"
	}
	return ""
}

func newTokenListCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list [-o table|json]",
		Short: "List join tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return showTableOrJSON(cmd.Context(), g, output,
				func(c *client.Client, ctx context.Context) (api.TokensResponse, error) {
					ts, err := c.Tokens(ctx)
					return api.TokensResponse{Tokens: ts}, err
				},
				func(w io.Writer, out api.TokensResponse, o cli.TableOptions) error {
					return cli.PrintTokens(w, out.Tokens, time.Now(), o)
				})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", cli.OutputTable, "table or json")
	return cmd
}

func newTokenRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a join token so it can no longer be redeemed",
		Long: `revoke stops a join token from being redeemed. Agents that already
attested keep their SVIDs until they expire.` + exitCodesHelp,
		Example: `  embassyctl token list
  embassyctl token revoke 3f2a9c0d1e4b5a6f`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "token %s revoked\n", args[0])
			return nil
		},
	}
}

func newBundleCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "bundle [-o pem|jwks]",
		Short: "Print the mesh's trust bundle for embassy-agent --trust-bundle",
		Long: `bundle prints the trust domain's root certificates as PEM (the file agents
are started with: embassy-agent --trust-bundle bundle.pem), or with -o jwks
the keys that verify JWT-SVIDs. It needs no token.` + exitCodesHelp,
		Example: `  embassyctl bundle > bundle.pem
  embassyctl bundle -o jwks`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != "pem" && output != "jwks" {
				return fmt.Errorf("unknown output format %q: use -o pem or -o jwks", output)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			b, err := c.Bundle(cmd.Context(), output)
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(b)
			return err
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "pem", "pem or jwks")
	return cmd
}

func newCertsCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "certs [-o table|json]",
		Short: "Show the SVIDs issued to agents and the trust bundle's roots",
		Long: `certs lists, per agent, the SPIFFE ID, serial and expiry of the latest SVID
issued and when it was last rotated, then the roots of the trust bundle
with their fingerprints and expiry.` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return showTableOrJSON(cmd.Context(), g, output, (*client.Client).Certificates,
				func(w io.Writer, out *api.CertificatesResponse, o cli.TableOptions) error {
					return cli.PrintCerts(w, out, time.Now(), o)
				})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", cli.OutputTable, "table or json")
	return cmd
}

// showTableOrJSON fetches with the API client and writes the result as
// indented JSON (-o json) or with table (-o table). fetch takes the client
// first, so a client method expression fits it.
func showTableOrJSON[T any](ctx context.Context, g *globals, output string, fetch func(*client.Client, context.Context) (T, error), table func(io.Writer, T, cli.TableOptions) error) error {
	if err := checkTableOrJSON(output); err != nil {
		return err
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	out, err := fetch(c, ctx)
	if err != nil {
		return err
	}
	if output == cli.OutputJSON {
		return writeJSON(g.stdout, out)
	}
	return table(g.stdout, out, cli.ForTerminal(g.stdout))
}

func checkTableOrJSON(output string) error {
	if output != cli.OutputTable && output != cli.OutputJSON {
		return fmt.Errorf("unknown output format %q: use -o table or -o json", output)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
