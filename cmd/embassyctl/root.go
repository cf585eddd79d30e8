package main

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/client"
)

// defaultServer is where embassy-cp serves its API unless told otherwise.
const defaultServer = "http://127.0.0.1:15000"

// exitCodesHelp is appended to every command's help.
const exitCodesHelp = `

Exit codes: 0 success; 1 failure (for diff: differences found); 2 diff
could not compare.`

// globals are the flags every command shares.
type globals struct {
	server    string
	tokenFile string
	stdout    io.Writer
	stderr    io.Writer
}

// client builds an API client, reading the token file when one is set.
// Without one, the server explains which token a command needs.
func (g *globals) client() (*client.Client, error) {
	token := ""
	if g.tokenFile != "" {
		t, err := client.ReadTokenFile(g.tokenFile)
		if err != nil {
			return nil, err
		}
		token = t
	}
	return client.New(g.server, token), nil
}

// newRootCmd builds embassyctl's command tree writing to stdout and stderr.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "embassyctl",
		Short: "Operate an Embassy service mesh",
		Long: `embassyctl talks to embassy-cp's HTTP API: it applies, reads, diffs and
deletes mesh resources (Mesh, Service, Workload, Route, TrafficPolicy,
AuthorizationPolicy), shows whether each proxy accepted its configuration,
and prints bootstraps for Envoy sidecars and proxyless gRPC clients.

Reads need the read token (<data-dir>/read-token) or the admin token;
writes (apply, delete) and join tokens need the admin token, which
embassy-cp writes to <data-dir>/admin-token on first start.` + exitCodesHelp,
		Example: `  export EMBASSY_SERVER=http://127.0.0.1:15000
  export EMBASSY_TOKEN_FILE=/var/lib/embassy/admin-token
  embassyctl apply -f examples/quickstart/
  embassyctl get services -A
  embassyctl proxy-status`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)

	addGlobalFlags(root, g)

	root.AddCommand(
		newApplyCmd(g),
		newGetCmd(g),
		newDescribeCmd(g),
		newDeleteCmd(g),
		newDiffCmd(g),
		newProxyStatusCmd(g),
		newStatusCmd(g),
		newEventsCmd(g),
		newBootstrapCmd(g),
		newTokenCmd(g),
		newBundleCmd(g),
		newCertsCmd(g),
		newCACmd(g),
		newCheckCmd(g),
		newAuditCmd(g),
		newPolicyCmd(g),
		newBackupCmd(g),
	)
	return root
}

// run executes embassyctl with args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		var ee *cli.ExitError
		if !errors.As(err, &ee) || !ee.Silent {
			cli.PrintError(stderr, err)
		}
	}
	return cli.ExitCode(err)
}
