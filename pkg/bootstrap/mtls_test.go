package bootstrap_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	httpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/upstreams/http/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/xds"

	"embassy.dev/embassy/pkg/bootstrap"
	"embassy.dev/embassy/pkg/dataplane"
)

func fileWatcher(dir string) map[string]any {
	return map[string]any{"default": map[string]any{"plugin_name": "file_watcher", "config": map[string]any{
		"certificate_file":    dir + "/svid.pem",
		"private_key_file":    dir + "/svid-key.pem",
		"ca_certificate_file": dir + "/bundle.pem",
		"refresh_interval":    "1s",
	}}}
}

func staticCluster(t *testing.T, name string, cs []*clusterv3.Cluster) *clusterv3.Cluster {
	t.Helper()
	for _, c := range cs {
		if c.GetName() == name {
			return c
		}
	}
	t.Fatalf("no static cluster %q", name)
	return nil
}

func TestEnvoyMTLS(t *testing.T) {
	b, err := bootstrap.Envoy(bootstrap.EnvoyOptions{NodeID: "echo-v1.default", SocketDir: "/var/run/agent", TrustDomain: "corp.example"})
	if err != nil {
		t.Fatal(err)
	}
	validateDeep(t, b)
	cs := b.GetStaticResources().GetClusters()
	sds := staticCluster(t, "embassy_sds", cs)
	pipe := sds.GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetPipe()
	if pipe.GetPath() != "/var/run/agent/sds.sock" {
		t.Errorf("sds pipe = %v", pipe)
	}
	var hpo httpv3.HttpProtocolOptions
	if err := sds.GetTypedExtensionProtocolOptions()["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].UnmarshalTo(&hpo); err != nil || hpo.GetExplicitHttpConfig().GetHttp2ProtocolOptions() == nil {
		t.Errorf("sds cluster does not speak HTTP/2: %v", err)
	}

	ts := staticCluster(t, dataplane.XDSClusterName, cs).GetTransportSocket()
	if ts.GetName() != "envoy.transport_sockets.tls" {
		t.Fatalf("xds transport socket = %v", ts)
	}
	u := &tlsv3.UpstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(u); err != nil {
		t.Fatal(err)
	}
	c := u.GetCommonTlsContext()
	if certs := c.GetTlsCertificateSdsSecretConfigs(); len(certs) != 1 || certs[0].GetName() != "default" ||
		certs[0].GetSdsConfig().GetApiConfigSource().GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() != "embassy_sds" {
		t.Errorf("certificate secrets = %v", certs)
	}
	combined := c.GetCombinedValidationContext()
	if v := combined.GetValidationContextSdsSecretConfig(); v.GetName() != "ROOTCA" || v.GetSdsConfig().GetApiConfigSource().GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() != "embassy_sds" {
		t.Errorf("validation secret = %v", v)
	}
	sans := combined.GetDefaultValidationContext().GetMatchTypedSubjectAltNames()
	if len(sans) != 1 || sans[0].GetSanType() != tlsv3.SubjectAltNameMatcher_URI || sans[0].GetMatcher().GetExact() != "spiffe://corp.example/ns/embassy-system/sa/embassy-cp" {
		t.Errorf("SANs = %v, want exactly the control plane's SPIFFE ID", sans)
	}

	def, err := bootstrap.Envoy(bootstrap.EnvoyOptions{NodeID: "echo-v1.default", TrustDomain: "example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if got := staticCluster(t, "embassy_sds", def.GetStaticResources().GetClusters()).GetLoadAssignment().GetEndpoints()[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetPipe().GetPath(); got != "/run/embassy/echo-v1.default/sds.sock" {
		t.Errorf("default sds socket = %q", got)
	}
	if staticCluster(t, dataplane.XDSClusterName, def.GetStaticResources().GetClusters()).GetTransportSocket() == nil {
		t.Error("xDS is plaintext by default")
	}

	plain, err := bootstrap.Envoy(bootstrap.EnvoyOptions{NodeID: "echo-v1.default", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	validateDeep(t, plain)
	cs = plain.GetStaticResources().GetClusters()
	if staticCluster(t, dataplane.XDSClusterName, cs).GetTransportSocket() != nil {
		t.Error("Insecure xDS has a transport socket")
	}
	staticCluster(t, "embassy_sds", cs) // mesh mTLS still needs the agent's SDS
}

func TestGRPCJSONMTLSShape(t *testing.T) {
	js, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: "n", CertDir: "/var/run/agent"})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		XDSServers []struct {
			ChannelCreds []map[string]any `json:"channel_creds"`
		} `json:"xds_servers"`
		CertificateProviders map[string]any `json:"certificate_providers"`
	}
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	cfg := fileWatcher("/var/run/agent")["default"].(map[string]any)["config"]
	if want := []map[string]any{{"type": "tls", "config": cfg}}; !reflect.DeepEqual(got.XDSServers[0].ChannelCreds, want) {
		t.Errorf("channel_creds = %v, want %v", got.XDSServers[0].ChannelCreds, want)
	}
	if !reflect.DeepEqual(got.CertificateProviders, fileWatcher("/var/run/agent")) {
		t.Errorf("certificate_providers = %v", got.CertificateProviders)
	}

	js, err = bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: "n", CertDir: "/var/run/agent", Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	got.XDSServers, got.CertificateProviders = nil, nil
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	if want := []map[string]any{{"type": "insecure"}}; !reflect.DeepEqual(got.XDSServers[0].ChannelCreds, want) {
		t.Errorf("insecure channel_creds = %v", got.XDSServers[0].ChannelCreds)
	}
	if !reflect.DeepEqual(got.CertificateProviders, fileWatcher("/var/run/agent")) {
		t.Errorf("insecure bootstrap lost its certificate provider: %v", got.CertificateProviders)
	}
}

// testPKI is a CA with a control-plane and a workload certificate written
// where the agent writes them.
type testPKI struct {
	dir       string
	serverTLS *tls.Config
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, id string, ips []net.IP, usage x509.ExtKeyUsage) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		u, _ := url.Parse(id)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			URIs: []*url.URL{u}, IPAddresses: ips, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	pemOf := func(typ string, b []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}) }
	keyPEM := func(k *ecdsa.PrivateKey) []byte {
		b, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pemOf("PRIVATE KEY", b)
	}
	dir := t.TempDir()
	wlDER, wlKey := leaf(2, "spiffe://embassy.local/ns/default/sa/echo", nil, x509.ExtKeyUsageClientAuth)
	for name, b := range map[string][]byte{"svid.pem": pemOf("CERTIFICATE", wlDER), "svid-key.pem": keyPEM(wlKey), "bundle.pem": pemOf("CERTIFICATE", caDER)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cpDER, cpKey := leaf(3, dataplane.ControlPlaneIDString("embassy.local"), []net.IP{net.ParseIP("127.0.0.1")}, x509.ExtKeyUsageServerAuth)
	cert, err := tls.X509KeyPair(pemOf("CERTIFICATE", cpDER), keyPEM(cpKey))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{dir: dir, serverTLS: &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}}
}

// peerRecordingADS is recordingADS that also records the client's
// certificate URI.
type peerRecordingADS struct {
	*recordingADS
	peers chan string
}

func (r *peerRecordingADS) StreamAggregatedResources(s discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	if p, ok := peer.FromContext(s.Context()); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 && len(ti.State.PeerCertificates[0].URIs) > 0 {
			select {
			case r.peers <- ti.State.PeerCertificates[0].URIs[0].String():
			default:
			}
		}
	}
	return r.recordingADS.StreamAggregatedResources(s)
}

// TestGRPCJSONMTLSAcceptedByGRPCClient feeds the mTLS bootstrap to
// grpc-go's own parser and checks that the client reaches an ADS server
// requiring client certificates, presenting the workload's SVID from the
// agent's files.
func TestGRPCJSONMTLSAcceptedByGRPCClient(t *testing.T) {
	pki := newTestPKI(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ads := &peerRecordingADS{recordingADS: &recordingADS{first: make(chan *discoveryv3.DiscoveryRequest, 4)}, peers: make(chan string, 4)}
	s := grpc.NewServer(grpc.Creds(credentials.NewTLS(pki.serverTLS)))
	discoveryv3.RegisterAggregatedDiscoveryServiceServer(s, ads)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)

	js, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: "echo-client.default", XDSAddress: lis.Addr().String(), CertDir: pki.dir})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := xds.NewXDSResolverWithConfigForTesting(js)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient("xds:///echo.default:50051", grpc.WithResolvers(rb), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	cc.Connect()

	req := awaitListenerRequest(t, ads.recordingADS, "echo.default:50051")
	if got := req.GetNode().GetId(); got != "echo-client.default" {
		t.Errorf("node id = %q", got)
	}
	select {
	case id := <-ads.peers:
		if id != "spiffe://embassy.local/ns/default/sa/echo" {
			t.Errorf("client presented %q", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the xDS stream carried no client certificate")
	}
}
