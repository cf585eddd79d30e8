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
		Use:   "get [KIND|all] [NAME] [-n NS] [-A] [-o table|yaml|json]",
		Short: "Show stored resources",
		Long: `get lists the resources of a kind, or shows one by name. KIND is any case,
singular, plural or a short name: service, services, svc, routes, rt,
meshes... Without KIND, get lists the kinds and their short names; get all
lists the resources of every kind.

Without -n, namespaced kinds are looked up in the "default" namespace;
-A lists every namespace. A Mesh has no namespace.

The table shows each kind's most useful columns (Service: ports and the
count of static endpoints; Workload: address, services and labels; Route:
its service and rule count). -o yaml prints documents you can edit and
apply again; -o json prints the API's JSON. On a terminal, long cells are
cut with "…" to fit its width ($COLUMNS overrides it); piped output keeps
every cell whole. describe KIND NAME shows one resource in detail.` + exitCodesHelp,
		Example: `  embassyctl get
  embassyctl get all -A
  embassyctl get svc
  embassyctl get services
  embassyctl get routes -A
  embassyctl get service echo -n prod -o yaml
  embassyctl get mesh -o json`,
		Args: cobra.RangeArgs(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := cli.CheckOutput(output); err != nil {
				return err
			}
			if len(args) == 0 {
				return cli.PrintKinds(g.stdout, cli.ForTerminal(g.stdout))
			}
			if all && namespace != "" {
				return errors.New("-A and -n both given: use -A for every namespace or -n NS for one")
			}
			if strings.EqualFold(args[0], "all") {
				if len(args) == 2 {
					return errors.New("get all takes no NAME: give a kind to get one resource, like `get service echo`")
				}
				return getAll(cmd.Context(), g, output, namespace, all)
			}
			kind, err := resource.ParseKind(args[0])
			if err != nil {
				return err
			}
			ns := listNamespace(kind, namespace, all)
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
