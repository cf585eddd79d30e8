package main

import (
	"time"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/cli"
)

func newApplyCmd(g *globals) *cobra.Command {
	var files []string
	var dryRun, wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR [-f ...] [--dry-run]",
		Short: "Create or update resources from YAML files",
		Long: `apply sends YAML files to embassy-cp, which stores every document in them
as one atomic change. A directory means every *.yaml and *.yml file below
it, in sorted order.

If any document is wrong (bad YAML, unknown kind or field, missing field,
a Route naming a Service that does not exist...), nothing is stored and
every problem is printed with its file, document index (from 0) and field
path. Otherwise one line per resource says whether it was created,
updated or unchanged. With --dry-run the server checks everything and
reports what it would do, storing nothing.

Warnings (problems that may resolve themselves, like a Workload applied
before its Service) go to stderr prefixed "warning: ".

With --wait, apply then follows the change to the proxies and exits 1
naming any proxy that rejected it (with its message) or did not
acknowledge it within --timeout.` + exitCodesHelp,
		Example: `  embassyctl apply -f echo.yaml
  embassyctl apply -f examples/quickstart/ --dry-run
  embassyctl apply -f services.yaml -f routes/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs, err := cli.ReadFiles(files)
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.Apply(cmd.Context(), fs, dryRun)
			if err != nil {
				return err
			}
			cli.PrintResult(g.stdout, g.stderr, res)
			if wait && !dryRun {
				return waitForChange(cmd.Context(), g, c, res.ChangeID, timeout)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "YAML file or directory to apply (repeatable)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check and report, store nothing")
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until every proxy the change affects has acknowledged it; exit 1 naming those that rejected it or did not answer")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "with --wait: how long to wait")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}
