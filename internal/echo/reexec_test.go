package echo_test

import (
	"testing"

	"embassy.dev/embassy/internal/echo"
	"embassy.dev/embassy/pkg/bootstrap"
)

// Only a bootstrap without a certificate makes the quickstart apps call
// in plaintext: the agent's relay socket is plaintext because it is
// local, and its application still holds the agent's certificates.
func TestInsecureBootstrap(t *testing.T) {
	for _, tc := range []struct {
		name     string
		o        bootstrap.GRPCOptions
		insecure bool
	}{
		{"--insecure-xds", bootstrap.GRPCOptions{NodeID: "c.default", XDSAddress: "127.0.0.1:15010", Insecure: true}, true},
		{"mTLS to the control plane", bootstrap.GRPCOptions{NodeID: "c.default", XDSAddress: "127.0.0.1:15010", CertDir: "/run/embassy/c.default"}, false},
		{"the agent's relay", bootstrap.GRPCOptions{NodeID: "c.default", XDSRelayDir: "/run/embassy/c.default"}, false},
	} {
		js, err := bootstrap.GRPCJSON(tc.o)
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv(echo.EnvBootstrapFile, "")
		t.Setenv(echo.EnvBootstrapConfig, string(js))
		if got := echo.InsecureBootstrap(); got != tc.insecure {
			t.Errorf("%s: InsecureBootstrap() = %v, want %v", tc.name, got, tc.insecure)
		}
	}
}
