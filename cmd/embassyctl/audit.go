package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/posture"
)

func newAuditCmd(g *globals) *cobra.Command {
	var failOn, output string
	cmd := &cobra.Command{
		Use:   "audit [--fail-on high] [-o table|json]",
		Short: "Audit the mesh's security posture",
		Long: `audit asks the control plane for its security findings, worst first:
services not in STRICT mTLS, services no enforced AuthorizationPolicy
protects, workloads that name a Service not allowing their service account
(they get no traffic from it), policies in dry-run or allowing everything,
certificates and CA roots near expiry, agents that stopped renewing,
unused, long-lived or never-expiring join tokens, plaintext xDS, anonymous
reads, and proxies that reject their configuration or stopped
acknowledging it. Each finding
names the resources involved and how to fix it.

With --fail-on the command exits 1 when any finding is at or above that
severity (critical, high, medium, low, info), so CI can gate on it.`,
		Example: `  embassyctl audit
  embassyctl audit --fail-on high -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var threshold posture.Severity
			if failOn != "" {
				var err error
				if threshold, err = posture.ParseSeverity(failOn); err != nil {
					return fmt.Errorf("--fail-on: %w", err)
				}
			}
			if output != cli.OutputTable && output != cli.OutputJSON {
				return fmt.Errorf("-o %q: expected table or json", output)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			r, err := c.Posture(cmd.Context())
			if err != nil {
				return err
			}
			if output == cli.OutputJSON {
				b, _ := json.MarshalIndent(r, "", "  ")
				fmt.Fprintln(g.stdout, string(b))
			} else {
				printAudit(g, r)
			}
			if threshold != "" {
				if bad := r.AtOrAbove(threshold); len(bad) > 0 {
					fmt.Fprintf(g.stderr, "audit: %d finding(s) at or above %s\n", len(bad), threshold)
					return &cli.ExitError{Code: cli.ExitFailure, Silent: true}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&failOn, "fail-on", "", "exit 1 when a finding is at or above this severity")
	cmd.Flags().StringVarP(&output, "output", "o", cli.OutputTable, "table or json")
	return cmd
}

func printAudit(g *globals, r *posture.Report) {
	if len(r.Findings) == 0 {
		fmt.Fprintf(g.stdout, "no findings at revision %d\n", r.Revision)
		return
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tID\tRESOURCES\tTITLE")
	for _, f := range r.Findings {
		res := strings.Join(f.Resources, ",")
		if len(f.Resources) > 3 {
			res = strings.Join(f.Resources[:3], ",") + fmt.Sprintf(",+%d", len(f.Resources)-3)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", strings.ToUpper(string(f.Severity)), f.ID, res, f.Title)
	}
	tw.Flush()
	fmt.Fprintln(g.stdout)
	for _, f := range r.Findings {
		fmt.Fprintf(g.stdout, "fix %s (%s): %s\n", f.ID, strings.Join(f.Resources, ","), f.Fix)
	}
}
