package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/dataplane"
)

// TestBootstrapAsksTheControlPlane runs both bootstrap commands with only
// --workload against a real control plane of trust domain example.org on
// ephemeral ports: the bootstraps must pin that trust domain and dial its
// real xDS port, where they used to carry embassy.local and 15010.
func TestBootstrapAsksTheControlPlane(t *testing.T) {
	cp, admin := startControlPlane(t, func(c *controlplane.Config) { c.TrustDomain, c.InsecureXDS = "example.org", false })
	token := filepath.Join(filepath.Dir(admin), "read-token")

	code, out, errOut := runCtl(t, cp, token, "bootstrap", "envoy", "--workload", "echo-v1.default")
	if code != 0 {
		t.Fatalf("bootstrap envoy: exit %d: %s", code, errOut)
	}
	if want := dataplane.ControlPlaneIDString("example.org"); !strings.Contains(out, want) {
		t.Errorf("envoy bootstrap does not pin %s:\n%s", want, out)
	}
	_, port, _ := strings.Cut(cp.XDSAddr(), ":")
	if !strings.Contains(out, "port_value: "+port+"\n") {
		t.Errorf("envoy bootstrap does not dial xDS port %s:\n%s", port, out)
	}

	code, out, errOut = runCtl(t, cp, token, "bootstrap", "grpc", "--workload", "echo-client.default")
	if code != 0 {
		t.Fatalf("bootstrap grpc: exit %d: %s", code, errOut)
	}
	var b struct {
		XDSServers []struct {
			ServerURI string `json:"server_uri"`
		} `json:"xds_servers"`
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil || len(b.XDSServers) != 1 || b.XDSServers[0].ServerURI != cp.XDSAddr() {
		t.Errorf("grpc bootstrap dials %+v (%v), want %s", b.XDSServers, err, cp.XDSAddr())
	}

	// Flags override, and with all of them no control plane is needed.
	var o, e strings.Builder
	code = run(context.Background(), []string{"--server", "http://127.0.0.1:1", "bootstrap", "envoy", "--workload", "echo-v1.default",
		"--xds-address", "10.0.0.2:15010", "--trust-domain", "corp.example"}, &o, &e)
	if code != 0 || !strings.Contains(o.String(), dataplane.ControlPlaneIDString("corp.example")) {
		t.Errorf("offline bootstrap: exit %d: %s%s", code, o.String(), e.String())
	}
}

// TestBootstrapWithoutControlPlaneSaysWhatToPass checks the error when the
// control plane cannot be asked: it names the flags that make it offline.
func TestBootstrapWithoutControlPlaneSaysWhatToPass(t *testing.T) {
	var o, e strings.Builder
	code := run(context.Background(), []string{"--server", "http://127.0.0.1:1", "bootstrap", "envoy", "--workload", "echo-v1.default"}, &o, &e)
	if code == 0 || !strings.Contains(e.String(), "--xds-address and --trust-domain") {
		t.Errorf("exit %d, stderr %q", code, e.String())
	}
}

func TestReachableXDS(t *testing.T) {
	for _, tc := range []struct{ listen, server, want string }{
		{"127.0.0.1:15010", "http://127.0.0.1:15000", "127.0.0.1:15010"},
		{"0.0.0.0:15010", "http://cp.example.org:15000", "cp.example.org:15010"},
		{"[::]:15010", "https://[2001:db8::1]:15000", "[2001:db8::1]:15010"},
		{"10.0.0.2:15010", "http://cp.example.org:15000", "10.0.0.2:15010"},
	} {
		if got := reachableXDS(tc.listen, tc.server); got != tc.want {
			t.Errorf("reachableXDS(%q, %q) = %q, want %q", tc.listen, tc.server, got, tc.want)
		}
	}
}
