package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
)

func newPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Test, apply, evaluate and explain Rego authorization policies",
		Long: `policy works with AuthorizationPolicies written in Rego, as for the
OPA-Envoy plugin (package envoy.authz, a boolean allow, the ext_authz
CheckRequest as input).

  test      runs the Rego tests of a directory, offline, like opa test
  apply     applies a directory's Rego as an AuthorizationPolicy
  list      shows every policy: compiled, RBAC or ext_authz, what each proxy ACKed
  eval      evaluates a stored policy on an input document
  explain   says whether a stored policy runs as Envoy RBAC, and if not why` + exitCodesHelp,
	}
	cmd.AddCommand(newPolicyTestCmd(g), newPolicyApplyCmd(g), newPolicyListCmd(g), newPolicyEvalCmd(g), newPolicyExplainCmd(g))
	return cmd
}

func newPolicyTestCmd(g *globals) *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test DIR [-v]",
		Short: "Run a policy directory's Rego tests (offline)",
		Long: `test runs the rules named test_* of every .rego file under DIR with OPA's
test runner, mounting each data.json under data at its directory's path,
and prints what opa test prints: with -v a PASS or FAIL line per test.
It needs no control plane. It exits 1 when a test fails or a module does
not compile.`,
		Example: `  embassyctl policy test examples/bookstore/policies/ -v`,
		Args:    cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			_, failed, err := compile.Test(args[0], g.stdout, verbose)
			if err != nil {
				return err
			}
			if failed > 0 {
				return &cli.ExitError{Code: cli.ExitFailure, Silent: true}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print every test's result")
	return cmd
}

func newPolicyApplyCmd(g *globals) *cobra.Command {
	var name, namespace, mode, query, failureMode string
	var targets []string
	var selector map[string]string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "apply DIR --name NAME --target SERVICE [-n NS] [--mode dry-run|enforce] [--query Q]",
		Short: "Apply a directory's Rego as an AuthorizationPolicy",
		Long: `apply reads every .rego file under DIR (tests, *_test.rego, are left out)
and every data.json (mounted under data at its directory's path), and
applies them as the AuthorizationPolicy NAME targeting the workloads of
each --target service (or those carrying every --selector label).

The control plane compiles the Rego before storing anything: a policy that
does not compile is refused with OPA's file:row:col and message. Start in
--mode dry-run (the agents log what they would deny), then enforce.`,
		Example: `  embassyctl policy apply ./payments-policy --name payments-callers --target payments -n shop --mode dry-run`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(targets) == 0 && len(selector) == 0 {
				return fmt.Errorf("name the workloads the policy applies to with --target SERVICE or --selector KEY=VALUE")
			}
			modules, data, err := compile.LoadDir(args[0])
			if err != nil {
				return err
			}
			if len(modules) == 0 {
				return fmt.Errorf("%s holds no .rego file besides tests", args[0])
			}
			r := &resource.Resource{
				APIVersion: resource.APIVersion,
				Kind:       resource.KindAuthorizationPolicy,
				Metadata:   resource.Metadata{Name: name, Namespace: namespace},
				Spec: &resource.AuthorizationPolicySpec{
					Targets: resource.Targets{Services: targets},
					Modules: modules, Data: data, Query: query, Mode: mode, FailureMode: failureMode,
				},
			}
			if len(selector) > 0 {
				r.Spec.(*resource.AuthorizationPolicySpec).Targets.Selector = &resource.LabelSelector{MatchLabels: selector}
			}
			doc, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			file := filepath.Join(args[0], "(policy "+name+")")
			res, err := c.Apply(cmd.Context(), []client.File{{Name: file, Content: string(doc)}}, dryRun)
			if err != nil {
				return err
			}
			cli.PrintResult(g.stdout, g.stderr, res)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "the AuthorizationPolicy's name")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", resource.DefaultNamespace, "the policy's namespace, and its targets'")
	cmd.Flags().StringArrayVar(&targets, "target", nil, "a service whose workloads the policy applies to (repeatable)")
	cmd.Flags().StringToStringVar(&selector, "selector", nil, "labels a workload must carry for the policy to apply (KEY=VALUE,...)")
	cmd.Flags().StringVar(&mode, "mode", "", "enforce (default) or dry-run")
	cmd.Flags().StringVar(&query, "query", "", "the Rego query deciding (default "+resource.DefaultQuery+")")
	cmd.Flags().StringVar(&failureMode, "failure-mode", "", "deny (default) or allow when evaluation fails")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check and report, store nothing")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newPolicyListCmd(g *globals) *cobra.Command {
	var namespace string
	var allNamespaces bool
	cmd := &cobra.Command{
		Use:   "list [-n NS | -A]",
		Short: "List AuthorizationPolicies: compiled, enforced by RBAC or ext_authz, ACKed by each proxy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if allNamespaces {
				namespace = ""
			}
			res, err := c.Policies(cmd.Context(), namespace)
			if err != nil {
				return err
			}
			return cli.PrintPolicies(g.stdout, res, cli.ForTerminal(g.stdout))
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", resource.DefaultNamespace, "namespace")
	cmd.Flags().BoolVarP(&allNamespaces, "all-namespaces", "A", false, "every namespace")
	return cmd
}

func newPolicyEvalCmd(g *globals) *cobra.Command {
	var namespace, input string
	cmd := &cobra.Command{
		Use:   "eval NAME --input REQUEST.json [-n NS]",
		Short: "Evaluate a stored policy on an input document",
		Long: `eval sends REQUEST.json (an ext_authz CheckRequest as the agent builds it:
{"attributes": {"source": ..., "request": {"http": ...}}, "parsed_path": ...})
to the control plane, which evaluates the stored policy on it exactly as
an agent would, and prints the decision. It needs the admin token. It
exits 0 whatever the decision; the first line is allow, deny, would-deny
or error.`,
		Example: `  embassyctl policy eval payments-callers -n shop --input checkout-charge.json`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(input)
			if err != nil {
				return err
			}
			if !json.Valid(raw) {
				return fmt.Errorf("%s is not JSON", input)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.EvalPolicy(cmd.Context(), namespace, args[0], raw)
			if err != nil {
				return err
			}
			d := res.Decision
			fmt.Fprintln(g.stdout, res.Outcome)
			fmt.Fprintf(g.stdout, "policy:   %s (revision %s)\n", res.Policy, res.Revision)
			if d.Reason != "" {
				fmt.Fprintf(g.stdout, "reason:   %s\n", d.Reason)
			}
			if d.HTTPStatus != 0 {
				fmt.Fprintf(g.stdout, "status:   %d\n", d.HTTPStatus)
			}
			keys := make([]string, 0, len(d.Headers))
			for k := range d.Headers {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(g.stdout, "header:   %s: %s\n", k, d.Headers[k])
			}
			if d.Body != "" {
				fmt.Fprintf(g.stdout, "body:     %s\n", strings.TrimSpace(d.Body))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", resource.DefaultNamespace, "the policy's namespace")
	cmd.Flags().StringVar(&input, "input", "", "JSON file holding the input document")
	_ = cmd.MarkFlagRequired("input")
	return cmd
}

func newPolicyExplainCmd(g *globals) *cobra.Command {
	var namespace string
	cmd := &cobra.Command{
		Use:   "explain NAME [-n NS]",
		Short: "Say whether a stored policy runs as Envoy RBAC, and if not which rule keeps it on ext_authz",
		Long: `explain shows how the control plane enforces a stored policy. A policy
partial evaluation can turn into Envoy RBAC is decided by the proxy
itself (and is the only way proxyless gRPC servers enforce it); explain
prints its rules. Otherwise it names the rule (file:line) and expression
that keep it on the agent's ext_authz, and why. It also says whether the
agent may cache the policy's decisions and on which input fields they are
keyed, or which expression (a time, random or network builtin, or a read
of the whole input) forbids it.

A dry-run policy is always the agents' to decide (RBAC cannot count what
it would deny); explain says so, then shows the RBAC it runs as once
enforced. An enforced policy RBAC cannot express denies every call to the
proxyless gRPC servers it targets, and explain ends by saying so.`,
		Example: `  embassyctl policy explain payments-callers -n shop`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.ExplainPolicy(cmd.Context(), namespace, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "policy %s revision %s\n%s", res.Policy, orDash(res.Revision), res.Text)
			return nil
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", resource.DefaultNamespace, "the policy's namespace")
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
