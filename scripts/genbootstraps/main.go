// Command genbootstraps writes the Envoy bootstrap of every Workload in the
// example meshes, one YAML file per sidecar, with the trust domain of the
// example's Mesh and each workload's own socket directory, so
// `make envoy-validate` can feed them to `envoy --mode validate`. It
// prints how many it wrote.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"embassy.dev/embassy/pkg/bootstrap"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

const usage = `genbootstraps decodes example meshes and writes one Envoy bootstrap per
Workload (node id <workload>.<namespace>) into --out, named
<workload>.<namespace>.yaml.

Usage:
  genbootstraps --out DIR [--xds-address HOST:PORT] [PATH ...]

PATH defaults to examples/quickstart and examples/bookstore, relative to the
working directory (run it from the repository root).

Flags:
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "genbootstraps:", err)
		os.Exit(1)
	}
}

// run parses args, writes the bootstraps and reports on stdout.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("genbootstraps", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "`directory` to write the bootstraps into (created if missing)")
	xds := fs.String("xds-address", dataplane.DefaultXDSAddress, "embassy-cp's xDS `host:port` written into every bootstrap")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return fmt.Errorf("--out is required")
	}
	paths := fs.Args()
	if len(paths) == 0 {
		paths = []string{"examples/quickstart", "examples/bookstore"}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	n := 0
	for _, p := range paths {
		written, err := writeBootstraps(p, *out, *xds)
		if err != nil {
			return err
		}
		n += written
	}
	fmt.Fprintf(stdout, "wrote %d Envoy bootstraps to %s\n", n, *out)
	return nil
}

// writeBootstraps writes one bootstrap per Workload found under path and
// returns how many it wrote.
func writeBootstraps(path, outDir, xds string) (int, error) {
	rs, err := resource.DecodePath(path)
	if err != nil {
		return 0, err
	}
	// The mesh's own trust domain, as its control plane would report it:
	// a bootstrap pinning another would never connect.
	trustDomain := mesh.New(0, rs).Mesh.TrustDomain
	n := 0
	for _, r := range rs {
		if r.Kind != resource.KindWorkload {
			continue
		}
		ns := r.Metadata.Namespace
		if ns == "" {
			ns = resource.DefaultNamespace
		}
		nodeID := r.Metadata.Name + "." + ns
		y, err := bootstrap.EnvoyYAML(bootstrap.EnvoyOptions{
			NodeID:      nodeID,
			XDSAddress:  xds,
			TrustDomain: trustDomain,
			Metadata:    map[string]string{"embassy.example": filepath.Base(path)},
		})
		if err != nil {
			return n, fmt.Errorf("%s: workload %s: %w", path, nodeID, err)
		}
		if err := os.WriteFile(filepath.Join(outDir, nodeID+".yaml"), y, 0o644); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
