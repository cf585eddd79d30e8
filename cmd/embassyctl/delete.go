package main

import (
	"errors"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/resource"
)

func newDeleteCmd(g *globals) *cobra.Command {
	var files []string
	var namespace string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "delete (KIND NAME [-n NS] | -f FILE|DIR) [--dry-run]",
		Short: "Delete resources by name or by the files that define them",
		Long: `delete removes one resource by kind and name, or every resource defined in
the given files and directories.

The server refuses to delete a resource that another still refers to (a
Service with a Route) and names the referrer: delete the referrer first,
or both together with -f, which deletes referrers before what they refer
to. With -f, a failure on one resource is printed and the rest are still
deleted; the exit code is then 1.` + exitCodesHelp,
		Example: `  embassyctl delete route echo
  embassyctl delete service echo -n prod --dry-run
  embassyctl delete -f examples/quickstart/`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var keys []resource.Key
			switch {
			case len(files) > 0 && len(args) > 0:
				return errors.New("give either KIND NAME or -f FILE|DIR, not both")
			case len(files) > 0:
				rs, err := cli.DecodePaths(files)
				if err != nil {
					return err
				}
				keys = cli.DeleteOrder(rs)
			case len(args) == 2:
				kind, err := resource.ParseKind(args[0])
				if err != nil {
					return err
				}
				k := resource.Key{Kind: kind, Name: args[1]}
				if kind.Namespaced() {
					k.Namespace = namespace
				}
				keys = []resource.Key{k}
			default:
				return errors.New("nothing to delete: give KIND NAME (like `delete route echo`) or -f FILE|DIR")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			failed := false
			for _, k := range keys {
				res, err := c.Delete(cmd.Context(), string(k.Kind), k.Namespace, k.Name, dryRun)
				if err != nil {
					cli.PrintError(g.stderr, err)
					failed = true
					continue
				}
				cli.PrintResult(g.stdout, g.stderr, res)
			}
			if failed {
				return &cli.ExitError{Code: cli.ExitFailure, Err: errors.New("some deletes failed"), Silent: true}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "YAML file or directory whose resources to delete (repeatable)")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", `namespace (default "default")`)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check and report, delete nothing")
	return cmd
}
