package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/events"
)

// colourful reports whether w is a terminal that wants colour.
func colourful(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func newStatusCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status [-o table|json|yaml]",
		Short: "Show the control plane's version, store, counts, CA roots and last push",
		Args:  cobra.NoArgs,
		Example: `  embassyctl status
  embassyctl status -o json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context())
			if err != nil {
				return err
			}
			return printStatus(g.stdout, output, st)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", cli.OutputTable, "table, json or yaml")
	return cmd
}

func printStatus(w io.Writer, format string, st *apiwire.StatusResponse) error {
	switch format {
	case cli.OutputJSON, cli.OutputYAML:
		return encode(w, format, st)
	case cli.OutputTable:
	default:
		return fmt.Errorf("unknown output format %q: use -o table, -o json or -o yaml", format)
	}
	return cli.PrintStatus(w, st, cli.ForTerminal(w))
}

// encode writes v as indented JSON or as YAML.
func encode(w io.Writer, format string, v any) error {
	if format == cli.OutputYAML {
		b, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newEventsCmd(g *globals) *cobra.Command {
	var (
		follow bool
		limit  int
		output string
	)
	cmd := &cobra.Command{
		Use:   "events [-f] [--limit N] [-o table|json]",
		Short: "Show recent control-plane events (applies, pushes, NACKs, policy loads, workloads excluded from a Service), or follow them",
		Args:  cobra.NoArgs,
		Example: `  embassyctl events
  embassyctl events -f
  embassyctl events -f -o json | jq 'select(.kind == "nack")'`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if output != cli.OutputTable && output != cli.OutputJSON {
				return fmt.Errorf("unknown output format %q: use -o table or -o json (one event per line)", output)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			o := cli.ForTerminal(g.stdout)
			print := func(e events.Event) error { return printEvent(g.stdout, output, e, o) }
			if follow {
				return c.FollowEvents(cmd.Context(), print)
			}
			evs, err := c.Events(cmd.Context(), limit)
			if err != nil {
				return err
			}
			for _, e := range evs {
				if err := print(e); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "stream events as they happen, until interrupted")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many recent events to show (0 for all kept)")
	cmd.Flags().StringVarP(&output, "output", "o", cli.OutputTable, "table (one line per event) or json (one object per line)")
	return cmd
}

// printEvent writes one event as a line: a JSON object, or the table line
// laid out for o.
func printEvent(w io.Writer, format string, e events.Event, o cli.TableOptions) error {
	if format == cli.OutputJSON {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	return cli.PrintEvent(w, e, o)
}
