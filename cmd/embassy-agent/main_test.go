package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"

	"embassy.dev/embassy/internal/applytest"
	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/resource"
)

// lines is the command's stdout; each write is also passed to a channel,
// so a test can wait for a progress line without polling.
type lines struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes chan string
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	l.mu.Unlock()
	select {
	case l.writes <- string(p):
	default:
	}
	return len(p), nil
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitFor waits until stdout contains s.
func (l *lines) waitFor(t *testing.T, s string) {
	t.Helper()
	l.waitForOrExit(t, s, nil)
}

// waitForOrExit is waitFor for a command that may stop first: it fails
// with the command's error as soon as done (when not nil) reports one.
func (l *lines) waitForOrExit(t *testing.T, s string, done <-chan error) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for !strings.Contains(l.String(), s) {
		select {
		case <-l.writes:
		case err := <-done:
			t.Fatalf("the command stopped (%v) before %q on stdout:\n%s", err, s, l)
		case <-deadline:
			t.Fatalf("no %q on stdout within 15s:\n%s", s, l)
		}
	}
}

const meshYAML = `apiVersion: embassy.dev/v1alpha1
kind: Mesh
metadata:
  name: default
spec:
  trustDomain: embassy.local
  svidTTL: 20s
---
` + meshtest.ServiceWebShop

// startCP starts embassy-cp with TLS xDS and the identity service, with a
// Mesh of 20s SVIDs and the Service the agent's Workload backs. The Mesh is
// stored before the serving start, so the first SVID already has its TTL.
// 20s: the first run waits for a rotation (at half the lifetime), and the
// SVID it leaves must outlive its shutdown on a loaded machine, or the
// second run has nothing to resume from.
func startCP(t *testing.T) *controlplane.ControlPlane {
	t.Helper()
	dir := t.TempDir()
	cfg := controlplane.Config{DataDir: dir, XDSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0"}
	cp, err := controlplane.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	applytest.Apply(t, cp.Store(), meshYAML)
	if err := cp.Close(); err != nil {
		t.Fatal(err)
	}
	if cp, err = controlplane.Start(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	return cp
}

// The command attests against a real embassy-cp, serves the Workload API
// and PEM files, registers its Workload, writes the Envoy bootstrap, starts
// "envoy", and on cancellation deregisters and stops it.
func TestAgentCommandAgainstTheControlPlane(t *testing.T) {
	cp := startCP(t)
	dir := t.TempDir()
	token, _, err := cp.Tokens().Create("shop", "web", "web-1", time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile, bundleFile := filepath.Join(dir, "token"), filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var bundle []byte
	for _, r := range cp.CA().Bundle() {
		bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Raw})...)
	}
	if err := os.WriteFile(bundleFile, bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	envoyStarts := filepath.Join(dir, "envoy-starts")
	fakeEnvoy := filepath.Join(dir, "envoy")
	if err := os.WriteFile(fakeEnvoy, []byte("#!/bin/sh\necho \"$@\" >> "+envoyStarts+"\nexec sleep 600\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sockets, err := os.MkdirTemp("", "agent-cmd")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockets)
	bootPath := filepath.Join(dir, "envoy.yaml")

	out := &lines{writes: make(chan string, 100)}
	cmd := newRootCmd()
	cmd.SetOut(out)
	cmd.SetErr(out)
	cmd.SetArgs([]string{
		"--cp", cp.XDSAddr(), "--token-file", tokenFile, "--trust-bundle", bundleFile,
		"--workload", "web-1.shop", "--socket-dir", sockets,
		"--address", "10.0.0.7", "--service", "web", "--port", "http=8080:9090", "--label", "version=v1",
		"--region", "eu", "--zone", "eu-1a",
		"--envoy-bootstrap", bootPath, "--envoy-bin", fakeEnvoy, "--log-level", "error",
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	out.waitFor(t, "wrote the Envoy bootstrap")

	want := spiffeid.RequireFromString("spiffe://embassy.local/ns/shop/sa/web")
	if !strings.Contains(out.String(), "attested as "+want.String()) {
		t.Fatalf("stdout:\n%s", out)
	}
	c, err := workloadapi.New(ctx, workloadapi.WithAddr("unix://"+filepath.Join(sockets, dataplane.WorkloadSocket)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	x, err := c.FetchX509Context(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leaf := x.DefaultSVID().Certificates[0]
	if id, _, err := x509svid.Verify(x.DefaultSVID().Certificates, x.Bundles); err != nil || id != want {
		t.Fatalf("x509svid.Verify: %s, %v", id, err)
	}
	if ttl := leaf.NotAfter.Sub(leaf.NotBefore); ttl > time.Minute {
		t.Fatalf("the SVID lives %s; the Mesh says 20s", ttl)
	}
	if fi, err := os.Stat(filepath.Join(sockets, dataplane.KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v", dataplane.KeyFile, err)
	}
	boot, err := os.ReadFile(bootPath)
	if err != nil || !strings.Contains(string(boot), filepath.Join(sockets, dataplane.SDSSocket)) {
		t.Fatalf("the bootstrap does not name the SDS socket: %v\n%s", err, boot)
	}

	// The rotation at ~10s shows on stdout; the Workload is registered.
	out.waitFor(t, "rotated SVID serial")
	key := resource.Key{Kind: resource.KindWorkload, Namespace: "shop", Name: "web-1"}
	r, err := cp.Store().Get(ctx, key)
	if err != nil {
		t.Fatalf("the Workload is not registered: %v", err)
	}
	spec := r.Spec.(*resource.WorkloadSpec)
	if spec.Address != "10.0.0.7" || spec.Labels["version"] != "v1" || spec.Locality == nil || spec.Locality.Zone != "eu-1a" ||
		len(spec.Ports) != 1 || spec.Ports[0].AppPort != 9090 || spec.ServiceAccount != "web" {
		t.Fatalf("registered %+v", spec)
	}
	if starts, err := os.ReadFile(envoyStarts); err != nil || !strings.Contains(string(starts), "-c "+bootPath) {
		t.Fatalf("envoy was not started with the bootstrap: %q, %v", starts, err)
	}

	cancel()
	poll.Returned(t, "the stopped agent", done)
	if _, err := cp.Store().Get(context.Background(), key); err == nil {
		t.Fatal("the Workload outlived the agent")
	}
	if strings.Contains(out.String(), token) {
		t.Fatal("the join token was printed")
	}

	// Started again without its token file, it resumes from the SVID the
	// first run left in the socket dir and registers again.
	if err := os.Remove(tokenFile); err != nil {
		t.Fatal(err)
	}
	out2 := &lines{writes: make(chan string, 100)}
	cmd = newRootCmd()
	cmd.SetOut(out2)
	cmd.SetErr(out2)
	cmd.SetArgs([]string{
		"--cp", cp.XDSAddr(), "--token-file", tokenFile, "--trust-bundle", bundleFile,
		"--workload", "web-1.shop", "--socket-dir", sockets, "--address", "10.0.0.7", "--service", "web", "--port", "http=8080:9090",
		"--log-level", "error",
	})
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	done2 := make(chan error, 1)
	go func() { done2 <- cmd.ExecuteContext(ctx2) }()
	out2.waitForOrExit(t, "resuming from the SVID in "+sockets, done2)
	poll.UntilState(t, "the resumed agent to register the Workload", func() (bool, string) {
		_, err := cp.Store().Get(context.Background(), key)
		return err == nil, fmt.Sprintf("%v; stdout:\n%s", err, out2)
	})
	cancel2()
	if err := <-done2; err != nil {
		t.Fatalf("the resumed agent: %v", err)
	}
}

func TestWorkloadFlags(t *testing.T) {
	s, err := workloadFlags{
		address: "10.0.0.7", services: []string{"web"}, ports: []string{"http=8080:9090", "admin=9000"},
		labels: []string{"version=v1"}, region: "eu", zone: "eu-1a",
	}.spec()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Ports) != 2 || s.Ports[0] != (resource.WorkloadPort{Name: "admin", Port: 9000}) ||
		s.Ports[1] != (resource.WorkloadPort{Name: "http", Port: 8080, AppPort: 9090}) ||
		s.Labels["version"] != "v1" || s.Locality.Region != "eu" || s.Address != "10.0.0.7" {
		t.Fatalf("spec %+v", s)
	}
	for _, bad := range []workloadFlags{
		{address: "web-1"},
		{ports: []string{"http"}},
		{ports: []string{"http=0"}},
		{ports: []string{"http=8080:70000"}},
		{labels: []string{"=v"}},
		{labels: []string{"a=1", "a=2"}},
	} {
		if _, err := bad.spec(); err == nil {
			t.Errorf("%+v was accepted", bad)
		}
	}
}

// TestSidecarSafe checks which ports a sidecar's agent refuses: only a
// loopback workload's port that is also an app's.
func TestSidecarSafe(t *testing.T) {
	for _, tc := range []struct {
		address string
		ports   []resource.WorkloadPort
		refused bool
	}{
		{"127.0.0.1", []resource.WorkloadPort{{Name: "grpc", Port: 18081}}, true},
		{"0.0.0.0", []resource.WorkloadPort{{Name: "grpc", Port: 18081}}, true},
		{"127.0.0.1", []resource.WorkloadPort{{Name: "http", Port: 8080, AppPort: 9090}, {Name: "admin", Port: 9090, AppPort: 9091}}, true},
		{"127.0.0.1", []resource.WorkloadPort{{Name: "grpc", Port: 18081, AppPort: 28081}}, false},
		{"10.0.0.7", []resource.WorkloadPort{{Name: "grpc", Port: 18081}}, false},
	} {
		err := sidecarSafe(resource.WorkloadSpec{Address: tc.address, Ports: tc.ports})
		if (err != nil) != tc.refused {
			t.Errorf("%s %+v: err = %v, want refused %v", tc.address, tc.ports, err, tc.refused)
		}
	}
}

func TestRequiredFlagsAndBadFiles(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("emb1.not-a-token-secret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--workload", "web-1.shop"}, "--trust-bundle is required"},
		{[]string{"--workload", "web-1.shop", "--token-file", bad, "--trust-bundle", bad}, "--token-file"},
		{[]string{"--workload", "web-1.shop", "--token-file", bad, "--trust-bundle", bad, "--envoy-bin", "/bin/true"}, "--envoy-bin needs --envoy-bootstrap"},
		{[]string{"--workload", "web-1.shop", "--token-file", bad, "--trust-bundle", bad, "--authz-timeout", "0s"}, "--authz-timeout 0s: want a positive duration"},
		{[]string{"--workload", "web-1.shop", "--token-file", bad, "--trust-bundle", bad, "--decision-log-sample", "1.5"}, "--decision-log-sample 1.5: want a share from 0"},
		{[]string{"--workload", "web-1.shop", "--token-file", bad, "--trust-bundle", bad, "--decision-log-sample", "NaN"}, "--decision-log-sample NaN: want a share from 0"},
		{[]string{"--workload", "web-1.shop", "--token-file", bad, "--trust-bundle", bad, "--envoy-bootstrap", filepath.Join(dir, "envoy.yaml"),
			"--address", "127.0.0.1", "--port", "grpc=18081"}, "--port grpc=18081: with --address 127.0.0.1, Envoy would listen on port 18081, where the app of port grpc listens"},
	} {
		cmd := newRootCmd()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(tc.args)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		}
		if strings.Contains(err.Error(), "not-a-token-secret-value") {
			t.Errorf("the token file's content was echoed: %v", err)
		}
	}
}
