package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/types/known/anypb"

	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/pkg/dataplane"
)

func sdsClient(t *testing.T, ta *testAgent) secretservice.SecretDiscoveryServiceClient {
	t.Helper()
	return secretservice.NewSecretDiscoveryServiceClient(grpctest.Dial(t, "unix://"+ta.path(dataplane.SDSSocket)))
}

// secretsOf unpacks an SDS response's secrets by name.
func secretsOf(t *testing.T, anys []*anypb.Any) map[string]*tlsv3.Secret {
	t.Helper()
	out := map[string]*tlsv3.Secret{}
	for _, a := range anys {
		s := &tlsv3.Secret{}
		if err := a.UnmarshalTo(s); err != nil {
			t.Fatal(err)
		}
		if err := s.ValidateAll(); err != nil {
			t.Fatalf("secret %s: %v", s.Name, err)
		}
		out[s.Name] = s
	}
	return out
}

// checkCertSecret says the "default" secret is a matching chain and key
// for testID, and returns the leaf's serial as text.
func checkCertSecret(t *testing.T, s *tlsv3.Secret) string {
	t.Helper()
	if s == nil {
		t.Fatal("no secret " + dataplane.SecretCert)
	}
	tc := s.GetTlsCertificate()
	pair, err := tls.X509KeyPair(tc.GetCertificateChain().GetInlineBytes(), tc.GetPrivateKey().GetInlineBytes())
	if err != nil {
		t.Fatalf("%s: chain and key do not pair: %v", dataplane.SecretCert, err)
	}
	if len(pair.Leaf.URIs) != 1 || pair.Leaf.URIs[0].String() != testID.String() {
		t.Fatalf("%s is for %v", dataplane.SecretCert, pair.Leaf.URIs)
	}
	return pair.Leaf.SerialNumber.String()
}

func checkRootSecret(t *testing.T, ta *testAgent, s *tlsv3.Secret) {
	t.Helper()
	if s == nil {
		t.Fatal("no secret " + dataplane.SecretRootCA)
	}
	want := string(certsPEM([]*x509.Certificate{ta.cp.ca.root}))
	if got := string(s.GetValidationContext().GetTrustedCa().GetInlineBytes()); got != want {
		t.Fatalf("%s trusts\n%s\nwant\n%s", dataplane.SecretRootCA, got, want)
	}
}

// A raw SotW SDS stream, as Envoy opens it, gets both secrets and then an
// updated "default" when the SVID rotates.
func TestSDSStateOfTheWorldServesAndPushesRotation(t *testing.T) {
	ta := startAgent(t, newFakeCP(t, 2*time.Second), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	stream, err := sdsClient(t, ta).StreamSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := &discoveryv3.DiscoveryRequest{
		Node:          &corev3.Node{Id: "web-1.shop"},
		TypeUrl:       resource.SecretType,
		ResourceNames: []string{dataplane.SecretCert, dataplane.SecretRootCA},
	}
	if err := stream.Send(req); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	got := secretsOf(t, resp.Resources)
	first := checkCertSecret(t, got[dataplane.SecretCert])
	checkRootSecret(t, ta, got[dataplane.SecretRootCA])

	for range 10 { // bounded: a 2s SVID rotates at ~1s
		req.VersionInfo, req.ResponseNonce = resp.VersionInfo, resp.Nonce
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		if resp, err = stream.Recv(); err != nil {
			t.Fatalf("no push after rotation: %v", err)
		}
		got = secretsOf(t, resp.Resources)
		if got[dataplane.SecretCert] != nil && checkCertSecret(t, got[dataplane.SecretCert]) != first {
			checkRootSecret(t, ta, got[dataplane.SecretRootCA])
			return
		}
	}
	t.Fatal("SDS pushed no rotated certificate in 10 responses")
}

// A delta SDS stream gets both secrets and the rotated "default".
func TestSDSDeltaServesAndPushesRotation(t *testing.T) {
	ta := startAgent(t, newFakeCP(t, 2*time.Second), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	stream, err := sdsClient(t, ta).DeltaSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discoveryv3.DeltaDiscoveryRequest{
		Node:                   &corev3.Node{Id: "any-node"},
		TypeUrl:                resource.SecretType,
		ResourceNamesSubscribe: []string{dataplane.SecretCert, dataplane.SecretRootCA},
	}); err != nil {
		t.Fatal(err)
	}
	var first string
	for range 10 {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		var anys []*anypb.Any
		for _, r := range resp.Resources {
			anys = append(anys, r.Resource)
		}
		got := secretsOf(t, anys)
		if first == "" {
			first = checkCertSecret(t, got[dataplane.SecretCert])
			checkRootSecret(t, ta, got[dataplane.SecretRootCA])
		} else if got[dataplane.SecretCert] != nil && checkCertSecret(t, got[dataplane.SecretCert]) != first {
			return
		}
		if err := stream.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resource.SecretType, ResponseNonce: resp.Nonce}); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("delta SDS pushed no rotated certificate in 10 responses")
}

// fetchSecrets asks a new SotW stream for both secrets and returns the
// first answer.
func fetchSecrets(t *testing.T, ta *testAgent) map[string]*tlsv3.Secret {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := sdsClient(t, ta).StreamSecrets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{Node: &corev3.Node{Id: "web-1.shop"}, TypeUrl: resource.SecretType, ResourceNames: []string{dataplane.SecretCert, dataplane.SecretRootCA}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	return secretsOf(t, resp.Resources)
}
