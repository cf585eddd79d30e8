package bootstrap_test

import (
	"testing"

	"embassy.dev/embassy/pkg/bootstrap"
)

// TestEnvoyAuthzCluster checks the static cluster the translator's
// ext_authz filter names: the agent's authz.sock, spoken to over HTTP/2.
func TestEnvoyAuthzCluster(t *testing.T) {
	for _, dir := range []string{"", "/var/run/agent"} {
		b, err := bootstrap.Envoy(bootstrap.EnvoyOptions{NodeID: "echo-v1.default", SocketDir: dir, TrustDomain: "example.org"})
		if err != nil {
			t.Fatal(err)
		}
		c := staticCluster(t, "embassy_authz", b.GetStaticResources().GetClusters())
		want := "/run/embassy/echo-v1.default/authz.sock"
		if dir != "" {
			want = dir + "/authz.sock"
		}
		if got := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetPipe().GetPath(); got != want {
			t.Errorf("embassy_authz pipe = %q, want %q", got, want)
		}
		if _, ok := c.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]; !ok {
			t.Error("embassy_authz does not speak HTTP/2: ext_authz is gRPC")
		}
	}
}
