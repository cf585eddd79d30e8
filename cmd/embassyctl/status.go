package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"embassy.dev/embassy/pkg/api"
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

func printStatus(w io.Writer, format string, st *api.StatusResponse) error {
	switch format {
	case cli.OutputJSON, cli.OutputYAML:
		return encode(w, format, st)
	case cli.OutputTable:
	default:
		return fmt.Errorf("unknown output format %q: use -o table, -o json or -o yaml", format)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Version:\t%s\n", st.Version)
	fmt.Fprintf(tw, "Uptime:\t%s\n", (time.Duration(st.UptimeSeconds) * time.Second).String())
	fmt.Fprintf(tw, "Store:\t%s at revision %d\n", st.Store.Kind, st.Store.Revision)
	fmt.Fprintf(tw, "Services:\t%d\n", st.Counts.Services)
	fmt.Fprintf(tw, "Workloads:\t%d\n", st.Counts.Workloads)
	fmt.Fprintf(tw, "Policies:\t%d\n", st.Counts.Policies)
	fmt.Fprintf(tw, "Connected proxies:\t%d\n", st.Counts.ConnectedProxies)
	if st.LastPush != nil {
		fmt.Fprintf(tw, "Last push:\trevision %d to %d proxies at %s, took %s\n", st.LastPush.Revision, st.LastPush.Proxies,
			st.LastPush.Time.Format(time.RFC3339), time.Duration(st.LastPush.DurationSeconds*float64(time.Second)).Round(time.Microsecond))
	} else {
		fmt.Fprintf(tw, "Last push:\tnone yet\n")
	}
	for _, r := range st.Roots {
		state := "published"
		if r.Active {
			state = "active"
		}
		fp := r.Fingerprint
		if len(fp) > 16 {
			fp = fp[:16] + "…"
		}
		fmt.Fprintf(tw, "CA root:\t%s %s, expires %s (in %s)\n", fp, state, r.NotAfter.Format("2006-01-02"),
			(time.Duration(r.SecondsToExpiry) * time.Second).Truncate(time.Hour))
	}
	return tw.Flush()
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
		Short: "Show recent control-plane events (applies, pushes, NACKs, policy loads), or follow them",
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
			print := func(e events.Event) error { return printEvent(g.stdout, output, e) }
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

// printEvent writes one event as a line.
func printEvent(w io.Writer, format string, e events.Event) error {
	if format == cli.OutputJSON {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	line := fmt.Sprintf("%s  %-8s", e.Time.Local().Format("15:04:05.000"), e.Kind)
	switch e.Kind {
	case events.KindNack:
		line += fmt.Sprintf(" %s %s: %s", e.Proxy, e.Type, e.Message)
	case events.KindPush:
		line += fmt.Sprintf(" revision %d to %d proxies in %s", e.Revision, e.Proxies, time.Duration(e.DurationSeconds*float64(time.Second)).Round(time.Microsecond))
	default:
		if e.Revision != 0 {
			line += fmt.Sprintf(" revision %d", e.Revision)
		}
		for _, r := range e.Resources {
			line += " " + r + ";"
		}
		if e.Message != "" {
			line += " " + e.Message
		}
	}
	_, err := fmt.Fprintln(w, line)
	return err
}
