package validate_test

import (
	"strings"
	"testing"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/xds/validate"
)

// TestKeyMaterialRefused checks that a private key or certificate is
// refused wherever it hides: in a served Secret, and inline in a
// transport socket packed inside a cluster's Any.
func TestKeyMaterialRefused(t *testing.T) {
	inline := func(s string) *core.DataSource {
		return &core.DataSource{Specifier: &core.DataSource_InlineString{InlineString: s}}
	}
	cases := map[string]*tls.TlsCertificate{
		"private key":       {PrivateKey: inline("-----BEGIN PRIVATE KEY-----")},
		"certificate chain": {CertificateChain: inline("-----BEGIN CERTIFICATE-----")},
		"pkcs12":            {Pkcs12: &core.DataSource{Specifier: &core.DataSource_InlineBytes{InlineBytes: []byte{1}}}},
		"key file":          {PrivateKey: &core.DataSource{Specifier: &core.DataSource_Filename{Filename: "/etc/key.pem"}}},
	}
	for name, cert := range cases {
		t.Run(name+" in a Secret", func(t *testing.T) {
			r := clean(t)
			r.Secrets = []*tls.Secret{{Name: "default", Type: &tls.Secret_TlsCertificate{TlsCertificate: cert}}}
			err := validate.Resources(r, nil)
			if err == nil || !strings.Contains(err.Error(), "Secret default") || !strings.Contains(err.Error(), "private key or certificate inline") {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run(name+" inline in a cluster", func(t *testing.T) {
			r := clean(t)
			ctx := &tls.UpstreamTlsContext{CommonTlsContext: &tls.CommonTlsContext{TlsCertificates: []*tls.TlsCertificate{cert}}}
			r.Clusters[0].TransportSocket = &core.TransportSocket{Name: "envoy.transport_sockets.tls", ConfigType: &core.TransportSocket_TypedConfig{TypedConfig: mustAny(t, ctx)}}
			err := validate.Resources(r, nil)
			if err == nil || !strings.Contains(err.Error(), "Cluster c1") || !strings.Contains(err.Error(), "private key or certificate inline") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// TestSDSNamesMustBeAllowed checks the reference check on the secrets the
// translator names: allowed when the agent serves them, refused otherwise.
func TestSDSNamesMustBeAllowed(t *testing.T) {
	r := clean(t)
	r.Clusters[0].TransportSocket = sdsSocket(t, "default")
	err := validate.Resources(r, nil)
	for _, name := range []string{`Secret "default"`, `Secret "ROOTCA"`} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("unserved %s not reported: %v", name, err)
		}
	}
	if err := validate.Resources(r, dataplane.SDSSecretNames()); err != nil {
		t.Fatalf("the agent's secrets refused: %v", err)
	}
	r.Clusters[0].TransportSocket = sdsSocket(t, "other")
	if err := validate.Resources(r, dataplane.SDSSecretNames()); err == nil || !strings.Contains(err.Error(), `Secret "other"`) {
		t.Fatalf("a secret the agent does not serve passed: %v", err)
	}
}
