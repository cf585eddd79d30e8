// Package e2e runs Embassy's binaries as an operator would: embassy-cp on a
// real data dir, embassyctl against its API, and gRPC applications that
// find each other through the mesh with gRPC's own xDS client. The binaries
// are built once for the whole package.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binDir holds embassy-cp, embassyctl, embassy-agent, echo-server and
// echo-client.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "embassy-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-o", dir+"/", "../cmd/embassy-cp", "../cmd/embassyctl", "../cmd/embassy-agent",
		"../cmd/embassy-demo-ha", "../examples/quickstart/cmd/echo-server", "../examples/quickstart/cmd/echo-client")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binaries for the end-to-end tests:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func bin(name string) string { return filepath.Join(binDir, name) }
