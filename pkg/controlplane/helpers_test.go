package controlplane

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"embassy.dev/embassy/pkg/dataplane"
	idclient "embassy.dev/embassy/pkg/identity/client"
	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/resource"

	"embassy.dev/embassy/internal/applytest"
	"embassy.dev/embassy/internal/grpctest"
	"embassy.dev/embassy/internal/idtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
)

// startCP starts a control plane on dataDir (bbolt) with TLS xDS, logging
// at trace level to logs.
func startCP(t *testing.T, dataDir string, logs *syncbuf.Buffer, mut ...func(*Config)) *ControlPlane {
	t.Helper()
	cp, err := Start(context.Background(), testConfig(dataDir, logs, mut...))
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// testConfig is the Config startCP starts, for tests that expect Start
// to fail.
func testConfig(dataDir string, logs *syncbuf.Buffer, mut ...func(*Config)) Config {
	cfg := Config{
		DataDir: dataDir, XDSAddr: "127.0.0.1:0", APIAddr: "127.0.0.1:0",
		Debounce: 5 * time.Millisecond, LeaseTTL: 300 * time.Millisecond, LeaseSweepInterval: 20 * time.Millisecond,
		Logger: hclog.New(&hclog.LoggerOptions{Name: "embassy-cp", Level: hclog.Trace, Output: logs}),
		Out:    logs,
	}
	for _, m := range mut {
		m(&cfg)
	}
	return cfg
}

// applyYAML applies documents through the control plane's store.
func applyYAML(t *testing.T, cp *ControlPlane, doc string) {
	t.Helper()
	applytest.Apply(t, cp.Store(), doc)
	// The push follows the store a debounce later, longer on a loaded
	// machine: a proxy that asks before it would be answered from the
	// mesh before the apply.
	poll.UntilState(t, "the push of the applied resources", func() (bool, string) {
		p, ok := cp.XDS().LastPush()
		stored := cp.Store().Revision()
		return ok && p.Revision >= stored, fmt.Sprintf("pushed %v, revision %d of the store's %d", ok, p.Revision, stored)
	})
}

// dialIdentity is a client of cp's identity API that trusts cp's CA and
// presents cert (none if nil), closed when the test ends.
func dialIdentity(t *testing.T, cp *ControlPlane, cert *tls.Certificate) *idclient.Client {
	t.Helper()
	c, err := idclient.Dial(cp.XDSAddr(), cp.CA().Bundle(), func() *tls.Certificate { return cert })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// svid is a workload's key and certificate.
type svid struct {
	key  crypto.Signer
	cert *tls.Certificate
}

// attest gets an SVID for ns/sa from the control plane through the real
// identity API, with a single-use join token.
func attest(t *testing.T, cp *ControlPlane, ns, sa string) (svid, string) {
	t.Helper()
	token, _, err := cp.Tokens().Create(ns, sa, "", time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	key, csr := idtest.KeyAndCSR(t)
	c := dialIdentity(t, cp, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Attest(ctx, &wire.AttestRequest{Token: token, Csr: csr})
	if err != nil {
		t.Fatalf("attest as %s/%s: %v", ns, sa, err)
	}
	crt, _, err := idclient.ParseSVID(resp, key)
	if err != nil {
		t.Fatal(err)
	}
	return svid{key: key, cert: crt}, token
}

// dialXDS opens an ADS client to the control plane presenting s (none
// when nil), verifying the server as the control plane's SPIFFE ID.
func dialXDS(t *testing.T, cp *ControlPlane, s *svid) discovery.AggregatedDiscoveryServiceClient {
	t.Helper()
	bundle := x509bundle.FromX509Authorities(cp.CA().TrustDomain(), cp.CA().Bundle())
	authz := tlsconfig.AuthorizeID(dataplane.ControlPlaneID(cp.CA().TrustDomain()))
	var cfg *tls.Config
	if s == nil {
		cfg = tlsconfig.TLSClientConfig(bundle, authz)
	} else {
		src := &x509svid.SVID{Certificates: []*x509.Certificate{s.cert.Leaf}, PrivateKey: s.key}
		var err error
		if src.ID, err = x509svid.IDFromCert(s.cert.Leaf); err != nil {
			t.Fatal(err)
		}
		cfg = tlsconfig.MTLSClientConfig(src, bundle, authz)
	}
	cc, err := grpc.NewClient(cp.XDSAddr(), grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return discovery.NewAggregatedDiscoveryServiceClient(cc)
}

// fetchClusters asks for every cluster as Envoy node id and returns the
// first response, or the stream's error.
func fetchClusters(t *testing.T, ads discovery.AggregatedDiscoveryServiceClient, id string) (*discovery.DiscoveryResponse, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	stream, err := ads.StreamAggregatedResources(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.ClusterType, Node: &core.Node{Id: id, UserAgentName: "envoy"}}); err != nil {
		return nil, err
	}
	return stream.Recv()
}

const meshShop = `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  serviceAccounts: [web, pay]
  ports:
  - name: http
    port: 8080
    protocol: http
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata:
  name: web-1
  namespace: shop
spec:
  address: 127.0.0.1
  services: [web]
  serviceAccount: web
---
apiVersion: embassy.dev/v1alpha1
kind: Workload
metadata:
  name: pay-1
  namespace: shop
spec:
  address: 127.0.0.2
  services: [web]
  serviceAccount: pay
`

func newKey(t *testing.T) crypto.Signer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func newCSR(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func workloadSpec(addr string) resource.WorkloadSpec {
	return resource.WorkloadSpec{Address: addr, Services: []string{"web"}}
}

func workloadKey(ns, name string) resource.Key {
	return resource.Key{Kind: resource.KindWorkload, Namespace: ns, Name: name}
}

// fetchClustersPlain is fetchClusters over plaintext.
func fetchClustersPlain(t *testing.T, addr, id string) (*discovery.DiscoveryResponse, error) {
	t.Helper()
	cc := grpctest.Dial(t, addr)
	return fetchClusters(t, discovery.NewAggregatedDiscoveryServiceClient(cc), id)
}

// attestPlain calls Attest over plaintext.
func attestPlain(t *testing.T, addr string) error {
	t.Helper()
	cc := grpctest.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := wire.NewIdentityClient(cc).Attest(ctx, &wire.AttestRequest{Token: "x"})
	return err
}
