package main

import (
	"io"
	"time"

	"github.com/spf13/cobra"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/cli"
	"embassy.dev/embassy/pkg/client"
)

func newCACmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ca",
		Short: "Show and rotate the roots of the mesh CA",
		Long: `The mesh CA signs every SVID of the trust domain. Its roots form the trust
bundle that agents and embassy-cp verify peers with (embassyctl bundle).
roots lists them with their rotation state; rotate publishes a new one.` + exitCodesHelp,
	}
	cmd.AddCommand(newCARotateCmd(g), newCARootsCmd(g))
	return cmd
}

func newCARotateCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "rotate [-o table|json]",
		Short: "Publish a new root of the mesh CA; the old one retires by itself",
		Long: `rotate makes a new root for the mesh's builtin CA and prints the bundle's
roots after it, the new one last. It needs the admin token.

The new root is in the trust bundle at once, but it signs nothing until the
CA's publish delay (five minutes by default) has passed: the current root keeps
signing until then, so every peer holds the new root before it meets an
SVID the new root signed. From then on the old root signs nothing, and it
stays in the bundle until the last SVID it signed expires (about the
longest SVID lifetime after the switch, 24h by default); then it leaves the
bundle by itself. The table's SIGNS-FROM and RETIRE-AFTER say when.

Nothing needs a restart: agents pick the new bundle up by themselves (they
fetch it every minute by default and with every SVID renewal), their next
renewal after the publish delay gets an SVID of the new root, and
embassy-cp's own xDS certificate moves to it when it starts signing.

A provided CA (--ca-cert-file and --ca-key-file, or a Mesh with ca.type
provided) cannot rotate itself: rotate it by replacing its cert and key
files and restarting embassy-cp. When SPIRE is the mesh's CA, SPIRE
rotates its roots. In both cases rotate fails, says so and changes
nothing.` + exitCodesHelp,
		Example: `  embassyctl ca rotate
  embassyctl ca roots
  embassyctl bundle > bundle.pem   # the bundle now holds both roots`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return showTableOrJSON(cmd.Context(), g, output, (*client.Client).RotateCA,
				func(w io.Writer, out *apiwire.CARootsResponse, o cli.TableOptions) error {
					return cli.PrintCARotation(w, out, time.Now(), o)
				})
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", cli.OutputTable, "table or json")
	return cmd
}

func newCARootsCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "roots [-o table|json]",
		Short: "List the roots of the trust bundle and their rotation state",
		Long: `roots lists every root of the trust bundle, oldest first: a short
fingerprint (the start of its SHA-256), whether it is the ACTIVE root that
signs new SVIDs, SIGNS-FROM (when a root published by a rotation starts
signing), RETIRE-AFTER (when a superseded root leaves the bundle, once every
SVID it signed has expired) and NOT-AFTER (when the root itself expires).
-o json shows full fingerprints and subjects. A read token is enough.` + exitCodesHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return showTableOrJSON(cmd.Context(), g, output, (*client.Client).CARoots, cli.PrintCARoots)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", cli.OutputTable, "table or json")
	return cmd
}
