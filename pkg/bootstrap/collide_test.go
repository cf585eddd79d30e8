package bootstrap_test

import (
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"

	"embassy.dev/embassy/pkg/bootstrap"
)

// localAddresses lists every socket a sidecar binds or dials on its own
// host: its admin API and the agent's sockets.
func localAddresses(t *testing.T, b *bootstrapv3.Bootstrap) []string {
	t.Helper()
	out := []string{protojson.Format(b.GetAdmin().GetAddress())}
	for _, c := range b.GetStaticResources().GetClusters() {
		if p := c.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetPipe(); p != nil {
			out = append(out, p.GetPath())
		}
	}
	return out
}

// TestSidecarsOnOneHostDoNotCollide writes the default bootstraps of two
// workloads, as two agents on one host would, and checks they share no
// admin address and no agent socket: every sidecar used to serve its
// admin API on 127.0.0.1:15100 and dial /run/embassy/sds.sock.
func TestSidecarsOnOneHostDoNotCollide(t *testing.T) {
	seen := map[string]string{}
	for _, id := range []string{"web-1.shop", "web-2.shop"} {
		b, err := bootstrap.Envoy(bootstrap.EnvoyOptions{NodeID: id, TrustDomain: "example.org"})
		if err != nil {
			t.Fatal(err)
		}
		addrs := localAddresses(t, b)
		if len(addrs) != 3 {
			t.Fatalf("%s: local addresses %v, want the admin API and two agent sockets", id, addrs)
		}
		for _, a := range addrs {
			if other, ok := seen[a]; ok {
				t.Errorf("%s and %s both use %s", other, id, a)
			}
			seen[a] = id
		}
	}
}

// TestEnvoyNeedsTheTrustDomain checks a bootstrap is never written with a
// guessed trust domain: a sidecar pinning the wrong one never connects.
func TestEnvoyNeedsTheTrustDomain(t *testing.T) {
	_, err := bootstrap.Envoy(bootstrap.EnvoyOptions{NodeID: "web-1.shop"})
	if err == nil || !strings.Contains(err.Error(), "trust domain is empty") || !strings.Contains(err.Error(), "--trust-domain") {
		t.Fatalf("err = %v, want the trust domain asked for", err)
	}
	if _, err := bootstrap.Envoy(bootstrap.EnvoyOptions{NodeID: "web-1.shop", Insecure: true}); err != nil {
		t.Fatalf("plaintext xDS pins no identity, yet: %v", err)
	}
}
