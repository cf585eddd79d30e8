//go:build spire

package e2e

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/spiffe"
)

// This file runs only with -tags spire (make test-spire), which first
// builds spire-server and spire-agent and names their directory in
// EMBASSY_SPIRE_BIN: building SPIRE takes minutes and gigabytes, too much
// for every test run.

const spireServerConf = `server {
  bind_address = "127.0.0.1"
  bind_port = "%s"
  socket_path = "%s/server.sock"
  trust_domain = "example.org"
  data_dir = "%s/server"
  log_level = "WARN"
  ca_ttl = "24h"
  default_x509_svid_ttl = "1m"
}
plugins {
  DataStore "sql" {
    plugin_data {
      database_type = "sqlite3"
      connection_string = "%s/server/datastore.sqlite3"
    }
  }
  KeyManager "memory" {
    plugin_data {}
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
}
`

const spireAgentConf = `agent {
  data_dir = "%s/agent"
  log_level = "WARN"
  server_address = "127.0.0.1"
  server_port = "%s"
  socket_path = "%s/agent.sock"
  insecure_bootstrap = true
  trust_domain = "example.org"
}
plugins {
  KeyManager "memory" {
    plugin_data {}
  }
  NodeAttestor "join_token" {
    plugin_data {}
  }
  WorkloadAttestor "unix" {
    plugin_data {
      discover_workload_path = true
    }
  }
}
`

// realSPIRE is a spire-server and a spire-agent (joined with a join
// token) on loopback, in a short directory.
type realSPIRE struct {
	bin, dir string
}

// spireCmd runs a spire-server or spire-agent subcommand and returns its
// output.
func (s *realSPIRE) spireCmd(t *testing.T, prog string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(s.bin, prog), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitHealthy polls prog's healthcheck on socket for up to 30 s.
func (s *realSPIRE) waitHealthy(t *testing.T, p *proc, prog, socket string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for exec.Command(filepath.Join(s.bin, prog), "healthcheck", "-socketPath", socket).Run() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s is not healthy after 30s:\n%s", prog, p.output())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func startRealSPIRE(t *testing.T) *realSPIRE {
	t.Helper()
	bin := os.Getenv("EMBASSY_SPIRE_BIN")
	if bin == "" {
		t.Fatal("EMBASSY_SPIRE_BIN is not set: run this test with make test-spire, which builds SPIRE and sets it")
	}
	dir, err := os.MkdirTemp("", "spire-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s := &realSPIRE{bin: bin, dir: dir}
	port := portOf(t, nettest.FreeAddr(t))
	writeFile(t, dir, "server.conf", fmt.Sprintf(spireServerConf, port, dir, dir, dir))
	writeFile(t, dir, "agent.conf", fmt.Sprintf(spireAgentConf, dir, port, dir))
	server := startPath(t, filepath.Join(bin, "spire-server"), "run", "-config", dir+"/server.conf")
	s.waitHealthy(t, server, "spire-server", dir+"/server.sock")
	m := regexp.MustCompile(`Token: (\S+)`).FindStringSubmatch(
		s.spireCmd(t, "spire-server", "token", "generate", "-socketPath", dir+"/server.sock", "-spiffeID", "spiffe://example.org/node"))
	if m == nil {
		t.Fatal("spire-server token generate printed no token")
	}
	agent := startPath(t, filepath.Join(bin, "spire-agent"), "run", "-config", dir+"/agent.conf", "-joinToken", m[1])
	s.waitHealthy(t, agent, "spire-agent", dir+"/agent.sock")
	return s
}

// entry registers spiffeID for the program at path on the joined node.
func (s *realSPIRE) entry(t *testing.T, path, spiffeID string, dns ...string) {
	t.Helper()
	args := []string{"entry", "create", "-socketPath", s.dir + "/server.sock", "-parentID", "spiffe://example.org/node",
		"-spiffeID", spiffeID, "-selector", "unix:path:" + path}
	for _, d := range dns {
		args = append(args, "-dns", d)
	}
	s.spireCmd(t, "spire-server", args...)
}

// copyBin copies a binary of binDir to a new name there, so SPIRE's unix
// attestor tells two processes of one program apart by path.
func copyBin(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(bin(from))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(bin(to), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRealSPIRE runs the SPIRE-backed mesh of TestSPIREMeshProxyless
// against a real spire-server and spire-agent: SPIRE issues embassy-cp's
// SVID and each workload's (1 minute SVIDs, so they rotate during the
// test), attesting the processes by their binaries' paths.
func TestRealSPIRE(t *testing.T) {
	s := startRealSPIRE(t)
	agentBins := map[string]string{"echo-v1": "embassy-agent-echo-v1", "echo-client": "embassy-agent-echo-client"}
	for name, b := range agentBins {
		copyBin(t, "embassy-agent", b)
		sa := map[string]string{"echo-v1": "echo-server", "echo-client": "echo-client"}[name]
		s.entry(t, bin(b), "spiffe://example.org/ns/default/sa/"+sa)
	}
	s.entry(t, bin("embassy-cp"), dataplane.ControlPlaneID(spiffeid.RequireTrustDomainFromString("example.org")).String(), "localhost")
	start := time.Now()
	runSPIREMesh(t, spireEnv{
		socket:   func(string) string { return s.dir + "/agent.sock" },
		agentBin: func(name string) string { return agentBins[name] },
		issued:   func(string) string { return "" },
		roots: func(t *testing.T) []*x509.Certificate {
			roots, err := spiffe.ParseCertsPEM([]byte(s.spireCmd(t, "spire-server", "bundle", "show", "-socketPath", s.dir+"/server.sock", "-format", "pem")))
			if err != nil {
				t.Fatal(err)
			}
			return roots
		},
		jwtKIDs: func(t *testing.T) []string {
			out := s.spireCmd(t, "spire-server", "bundle", "show", "-socketPath", s.dir+"/server.sock", "-format", "spiffe")
			return jwksKIDs(t, []byte(out), "jwt-svid")
		},
		rotate:     func(*testing.T, string) string { return "" },
		rotateWait: 90 * time.Second,
	})
	t.Logf("the SPIRE-backed mesh ran in %s", time.Since(start).Round(time.Millisecond))
}
