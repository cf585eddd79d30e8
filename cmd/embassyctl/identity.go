package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/identity"
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
	var req apiwire.TokenCreateRequest
	var output string
	cmd := &cobra.Command{
		Use:   "create --namespace NS --service-account SA [--workload NAME] [--service SVC]... [--ttl 1h] [--single-use] [--output FILE]",
		Short: "Create a join token; only the token goes to stdout",
		Long: `create makes a join token for one identity and prints the token alone on
stdout (or writes it, mode 0600, to --output), so it can go straight to a
file; what it grants is printed on stderr. A shell's > makes a file others
may read under the usual umask: create warns when stdout is such a file. The token is shown this once:
the control plane keeps only its hash. --workload limits the agent to
registering that one workload name; --service (repeatable) limits the
services it may register that workload for. Either way a registration is
also refused for a Service whose spec.serviceAccounts does not allow the
token's service account. Names are checked like resource names, and the
TTL may be at most ` + identity.MaxTokenTTL.String() + " (0: never expires)." + exitCodesHelp,
		Example: `  embassyctl token create --namespace default --service-account echo --workload echo-v1 --service echo --single-use --output echo-v1.token
  embassyctl token create -n shop --service-account web --ttl 24h --output web.token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Namespace == "" || req.ServiceAccount == "" {
				return fmt.Errorf("--namespace and --service-account are required: the token grants spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>")
			}
			if req.TTL != "" {
				if _, err := identity.ParseTokenTTL(req.TTL); err != nil {
					return fmt.Errorf("--%v", err)
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			out, err := c.CreateToken(cmd.Context(), req)
			if err != nil {
				return err
			}
			if err := writeToken(g, output, out.Token); err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "created join token %s for ns %s, sa %s%s%s, %s%s%s\n", out.Info.ID, out.Info.Namespace, out.Info.ServiceAccount,
				workloadNote(out.Info.Workload), servicesNote(out.Info.Services), expiryNote(out.Info.ExpiresAt), singleUseNote(out.Info.SingleUse), outputNote(output))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&req.Namespace, "namespace", "n", "", "namespace of the identity the token grants (required)")
	f.StringVar(&req.ServiceAccount, "service-account", "", "service account of the identity the token grants (required)")
	f.StringVar(&req.Workload, "workload", "", "the only workload name the agent may register (default: any)")
	f.StringArrayVar(&req.Services, "service", nil, "a service the agent may register its workload for; repeat for several (default: any its service account is allowed to serve)")
	f.StringVar(&req.TTL, "ttl", "", fmt.Sprintf("how long the token may be redeemed, at most %s; 0: never expires (default %s)", identity.MaxTokenTTL, apiwire.DefaultTokenTTL))
	f.BoolVar(&req.SingleUse, "single-use", false, "the token may be redeemed once")
	f.StringVar(&output, "output", "", "write the token to this file, mode 0600, instead of stdout")
	return cmd
}

// writeToken prints the token, or writes it to path readable by its owner
// only: through a temporary file renamed into place, so an existing file
// with a wider mode is replaced rather than written into.
func writeToken(g *globals, path, token string) error {
	if path == "" {
		if _, err := fmt.Fprintln(g.stdout, token); err != nil {
			return err
		}
		warnReadableStdout(g)
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("--output %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600; Chmod says so where a umask or
	// platform might not.
	if err := tmp.Chmod(0o600); err == nil {
		_, err = tmp.WriteString(token + "\n")
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("--output %s: %w (the token was created; revoke it with embassyctl token revoke)", path, err)
	}
	return nil
}

// warnReadableStdout warns when the token went to a file others may read,
// as a shell's `>` makes one under the usual umask: the token is a
// secret, and --output writes it 0600.
func warnReadableStdout(g *globals) {
	f, ok := g.stdout.(*os.File)
	if !ok {
		return
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	fmt.Fprintf(g.stderr, "embassyctl: warning: the token went to a file others may read (mode %04o): chmod 600 it, and use --output FILE, which writes it 0600\n", fi.Mode().Perm())
}

func servicesNote(services []string) string {
	if len(services) == 0 {
		return ""
	}
	return ", services " + strings.Join(services, ",")
}

func outputNote(path string) string {
	if path == "" {
		return ""
	}
	return "; written to " + path
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
				func(c *client.Client, ctx context.Context) (apiwire.TokensResponse, error) {
					ts, err := c.Tokens(ctx)
					return apiwire.TokensResponse{Tokens: ts}, err
				},
				func(w io.Writer, out apiwire.TokensResponse, o cli.TableOptions) error {
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
				func(w io.Writer, out *apiwire.CertificatesResponse, o cli.TableOptions) error {
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
