package main

import (
	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/cli"
)

func newDiffCmd(g *globals) *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "diff -f FILE|DIR [-f ...]",
		Short: "Show what apply would change",
		Long: `diff compares each resource in the files with the stored copy and prints a
unified diff of the YAML for each one that would change; a resource that
is not stored yet is shown whole, marked "(new)". It needs no token and
changes nothing.

Exit codes: 0 no differences; 1 differences found; 2 the files could not
be read or decoded, or the server could not be asked.`,
		Example: `  embassyctl diff -f examples/quickstart/
  embassyctl diff -f route.yaml && echo "already applied"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := cli.DecodePaths(files)
			if err != nil {
				return &cli.ExitError{Code: cli.ExitDiffError, Err: err}
			}
			c, err := g.client()
			if err != nil {
				return &cli.ExitError{Code: cli.ExitDiffError, Err: err}
			}
			differs, err := cli.DiffResources(cmd.Context(), c, rs, g.stdout)
			if err != nil {
				return &cli.ExitError{Code: cli.ExitDiffError, Err: err}
			}
			if differs {
				return &cli.ExitError{Code: cli.ExitFailure, Silent: true}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "YAML file or directory to compare (repeatable)")
	_ = cmd.MarkFlagRequired("filename")
	return cmd
}
