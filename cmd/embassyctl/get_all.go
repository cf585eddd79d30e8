package main

import (
	"context"
	"fmt"

	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/resource"
)

// listNamespace is the namespace get lists a kind in: the flag's, else
// "default" for a namespaced kind, every namespace ("") with -A, and none
// for a Mesh.
func listNamespace(kind resource.Kind, namespace string, all bool) string {
	if !kind.Namespaced() {
		return ""
	}
	if namespace == "" && !all {
		return resource.DefaultNamespace
	}
	return namespace
}

// getAll prints the stored resources of every kind: a table per kind that
// has any, headed by the kind, or one YAML stream or JSON list of all.
func getAll(ctx context.Context, g *globals, output, namespace string, all bool) error {
	c, err := g.client()
	if err != nil {
		return err
	}
	var every []*resource.Resource
	tables := 0
	for _, kind := range resource.Kinds {
		rs, _, err := c.List(ctx, string(kind), listNamespace(kind, namespace, all))
		if err != nil {
			return fmt.Errorf("listing %s: %w", kind.Plural(), err)
		}
		every = append(every, rs...)
		if output != cli.OutputTable || len(rs) == 0 {
			continue
		}
		if tables > 0 {
			fmt.Fprintln(g.stdout)
		}
		tables++
		fmt.Fprintf(g.stdout, "%s:\n", kind.Plural())
		if err := cli.PrintResourcesWith(g.stdout, output, kind, rs, false, cli.ForTerminal(g.stdout)); err != nil {
			return err
		}
	}
	switch {
	case output != cli.OutputTable:
		return cli.PrintResourcesWith(g.stdout, output, "", every, false, cli.ForTerminal(g.stdout))
	case tables == 0:
		where := "in any namespace"
		if ns := listNamespace(resource.KindService, namespace, all); ns != "" {
			where = "in namespace " + ns
		}
		fmt.Fprintf(g.stderr, "no resources found %s\n", where)
	}
	return nil
}
