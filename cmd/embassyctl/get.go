package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/resource"
)

func newGetCmd(g *globals) *cobra.Command {
	var namespace, output string
	var all bool
	cmd := &cobra.Command{
		Use:   "get KIND [NAME] [-n NS] [-A] [-o table|yaml|json]",
		Short: "Show stored resources",
		Long: `get lists the resources of a kind, or shows one by name. KIND is any case,
singular or plural: service, services, Service, routes, meshes...

Without -n, namespaced kinds are looked up in the "default" namespace;
-A lists every namespace. A Mesh has no namespace.

The table shows each kind's most useful columns (Service: ports and the
count of static endpoints; Workload: address, services and labels; Route:
its service and rule count). -o yaml prints documents you can edit and
apply again; -o json prints the API's JSON. On a terminal, long cells are
cut with "…" to fit its width ($COLUMNS overrides it); piped output keeps
every cell whole. describe KIND NAME shows one resource in detail.` + exitCodesHelp,
		Example: `  embassyctl get services
  embassyctl get routes -A
  embassyctl get service echo -n prod -o yaml
  embassyctl get mesh -o json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.CheckOutput(output); err != nil {
				return err
			}
			kind, err := resource.ParseKind(args[0])
			if err != nil {
				return err
			}
			if all && namespace != "" {
				return errors.New("-A and -n both given: use -A for every namespace or -n NS for one")
			}
			ns := namespace
			if kind.Namespaced() && ns == "" && !all {
				ns = resource.DefaultNamespace
			}
			if !kind.Namespaced() {
				ns = ""
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if len(args) == 2 {
				r, err := c.Get(cmd.Context(), string(kind), ns, args[1])
				if err != nil {
					return err
				}
				return cli.PrintResourcesWith(g.stdout, output, kind, []*resource.Resource{r}, true, cli.ForTerminal(g.stdout))
			}
			rs, _, err := c.List(cmd.Context(), string(kind), ns)
			if err != nil {
				return err
			}
			if len(rs) == 0 && output == cli.OutputTable {
				where := "in any namespace"
				if ns != "" {
					where = "in namespace " + ns
				}
				fmt.Fprintf(g.stderr, "no %s found %s\n", strings.ToLower(string(kind)), where)
				return nil
			}
			return cli.PrintResourcesWith(g.stdout, output, kind, rs, false, cli.ForTerminal(g.stdout))
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", `namespace (default "default")`)
	cmd.Flags().BoolVarP(&all, "all-namespaces", "A", false, "list every namespace")
	cmd.Flags().StringVarP(&output, "output", "o", cli.OutputTable, "table, yaml or json")
	return cmd
}
