package main

import (
	"context"
	"strings"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/resource"
)

// describeExtras are describe subcommands for things that are not stored
// resources (a connected proxy, say); a file adds its own with
// registerDescribe in an init function, so describe needs no edit.
var describeExtras []func(*globals) *cobra.Command

// registerDescribe adds a subcommand to every describe command built after.
func registerDescribe(f func(*globals) *cobra.Command) {
	describeExtras = append(describeExtras, f)
}

func newDescribeCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe KIND NAME [-n NS]",
		Short: "Show one resource in detail, with what targets it",
		Long: `describe shows one resource for a person to read:

  service              ports; endpoints with their workloads, labels,
                       locality and health as the mesh sees them; the
                       Routes, TrafficPolicies and AuthorizationPolicies
                       that target it
  workload             address, ports, labels, locality, service account,
                       and what targets the services it backs
  route                its service and every rule in one line
  trafficpolicy        its settings, one per line
  authorizationpolicy  targets, mode, modules, and whether it compiled,
                       how it is enforced and which proxies ACKed it
  mesh                 trust domain, mTLS mode, CA and SVID TTL

KIND is any case, singular or plural. Without -n, the "default" namespace.
Long cells are cut with "…" to fit the terminal; get -o yaml prints
everything.` + exitCodesHelp,
		Example: `  embassyctl describe service echo
  embassyctl describe authorizationpolicy payments-callers -n shop
  embassyctl describe mesh default`,
	}
	for _, k := range resource.Kinds {
		cmd.AddCommand(newDescribeKindCmd(g, k))
	}
	for _, f := range describeExtras {
		cmd.AddCommand(f(g))
	}
	return cmd
}

// newDescribeKindCmd describes resources of one kind; its aliases are the
// kind's plural and the usual short names.
func newDescribeKindCmd(g *globals, kind resource.Kind) *cobra.Command {
	var namespace string
	name := strings.ToLower(string(kind))
	aliases := append([]string{string(kind), kind.Plural()}, resource.ShortNames[kind]...)
	cmd := &cobra.Command{
		Use:     name + " NAME",
		Aliases: aliases,
		Short:   "Describe a " + string(kind),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ns := ""
			if kind.Namespaced() {
				ns = namespace
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			r, err := c.Get(cmd.Context(), string(kind), ns, args[0])
			if err != nil {
				return err
			}
			rel, err := related(cmd.Context(), c, r)
			if err != nil {
				return err
			}
			return cli.Describe(g.stdout, r, rel, cli.ForTerminal(g.stdout))
		},
	}
	if kind.Namespaced() {
		cmd.Flags().StringVarP(&namespace, "namespace", "n", resource.DefaultNamespace, "namespace")
	}
	return cmd
}

// related reads what describe shows beside r: for a Service or Workload
// the Routes, TrafficPolicies and AuthorizationPolicies of its namespace
// and the mesh's endpoints; for policies their compile status. The status
// endpoints are best effort: an older server or a narrower token leaves
// their part out rather than failing the command.
func related(ctx context.Context, c *client.Client, r *resource.Resource) (cli.Related, error) {
	var all []*resource.Resource
	var services *apiwire.ServicesResponse
	var policies *apiwire.PoliciesResponse
	switch r.Kind {
	case resource.KindService, resource.KindWorkload:
		for _, k := range []resource.Kind{resource.KindRoute, resource.KindTrafficPolicy, resource.KindAuthorizationPolicy} {
			rs, _, err := c.List(ctx, string(k), r.Metadata.Namespace)
			if err != nil {
				return cli.Related{}, err
			}
			all = append(all, rs...)
		}
		if r.Kind == resource.KindService {
			services, _ = c.Services(ctx)
		}
		policies, _ = c.Policies(ctx, r.Metadata.Namespace)
	case resource.KindAuthorizationPolicy:
		policies, _ = c.Policies(ctx, r.Metadata.Namespace)
	}
	return cli.FindRelated(r, all, services, policies), nil
}
