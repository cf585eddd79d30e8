package translate_test

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	cluster "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	listener "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	hcm "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
)

func mtlsSnapshot(t *testing.T, mode string) *mesh.Snapshot {
	t.Helper()
	return loadSnapshot(t, filepath.Join("testdata", "in", "mtls-"+mode+".yaml"))
}

var (
	echoV1Envoy     = translate.Proxy{ID: "echo-v1.demo", Flavour: translate.Envoy, Workload: "echo-v1", Namespace: "demo"}
	echoV1Proxyless = translate.Proxy{ID: "echo-v1.demo", Flavour: translate.Proxyless}
)

const echoServerListener = "grpc/server?xds.resource.listening_address=10.0.1.1:50051"

// TestGoldenProxylessServer pins the server Listeners of echo-v1 as an
// xDS-enabled gRPC server in each mTLS mode.
func TestGoldenProxylessServer(t *testing.T) {
	for _, mode := range []string{"strict", "permissive", "disabled"} {
		t.Run(mode, func(t *testing.T) {
			s := mtlsSnapshot(t, mode)
			r, _ := translate.ProxylessServer(s, translate.Proxy{ID: "echo-v1.demo", Flavour: translate.Proxyless, Workload: "echo-v1", Namespace: "demo"})
			if err := validateResources(r); err != nil {
				t.Fatalf("server listeners do not validate: %v", err)
			}
			path := filepath.Join("testdata", "out", "mtls-"+mode+".proxyless-server.listeners.yaml")
			got := toYAML(t, r.Listeners)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./xds/translate -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs:\n%s", path, lineDiff(string(want), string(got)))
			}
		})
	}
}

func upstreamTLS(t *testing.T, c *cluster.Cluster) *tls.UpstreamTlsContext {
	t.Helper()
	ts := c.GetTransportSocket()
	if ts == nil {
		return nil
	}
	if ts.GetName() != "envoy.transport_sockets.tls" {
		t.Errorf("cluster %s transport socket name %q", c.GetName(), ts.GetName())
	}
	out := &tls.UpstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(out); err != nil {
		t.Fatal(err)
	}
	return out
}

func downstreamTLS(t *testing.T, ts *core.TransportSocket) *tls.DownstreamTlsContext {
	t.Helper()
	if ts == nil {
		return nil
	}
	out := &tls.DownstreamTlsContext{}
	if err := ts.GetTypedConfig().UnmarshalTo(out); err != nil {
		t.Fatal(err)
	}
	return out
}

func findCluster(r *translate.Resources, name string) *cluster.Cluster {
	for _, c := range r.Clusters {
		if c.GetName() == name {
			return c
		}
	}
	return nil
}

func findListener(r *translate.Resources, name string) *listener.Listener {
	for _, l := range r.Listeners {
		if l.GetName() == name {
			return l
		}
	}
	return nil
}

func exactSANs(ms []*tls.SubjectAltNameMatcher) []string {
	var out []string
	for _, m := range ms {
		if m.GetSanType() != tls.SubjectAltNameMatcher_URI {
			out = append(out, "not-uri:"+m.GetSanType().String())
		}
		if e := m.GetMatcher().GetExact(); e != "" {
			out = append(out, e)
		} else {
			out = append(out, "prefix:"+m.GetMatcher().GetPrefix())
		}
	}
	return out
}

// checkSDSContext checks a sidecar's TLS context: certificate and trust
// bundle by name from the agent over the embassy_sds cluster.
func checkSDSContext(t *testing.T, what string, c *tls.CommonTlsContext) {
	t.Helper()
	certs := c.GetTlsCertificateSdsSecretConfigs()
	if len(certs) != 1 || certs[0].GetName() != "default" {
		t.Errorf("%s: certificate secrets %v, want [default]", what, certs)
	}
	v := c.GetCombinedValidationContext().GetValidationContextSdsSecretConfig()
	if v.GetName() != "ROOTCA" {
		t.Errorf("%s: validation secret %q, want ROOTCA", what, v.GetName())
	}
	for _, s := range append(certs, v) {
		api := s.GetSdsConfig().GetApiConfigSource()
		if api.GetApiType() != core.ApiConfigSource_GRPC || api.GetTransportApiVersion() != core.ApiVersion_V3 ||
			api.GetGrpcServices()[0].GetEnvoyGrpc().GetClusterName() != "embassy_sds" || s.GetSdsConfig().GetResourceApiVersion() != core.ApiVersion_V3 {
			t.Errorf("%s: secret %s not fetched from embassy_sds over gRPC v3: %v", what, s.GetName(), s.GetSdsConfig())
		}
	}
	if len(c.GetTlsCertificates()) != 0 {
		t.Errorf("%s: inline certificate", what)
	}
}

func TestEnvoyStrict(t *testing.T) {
	s := mtlsSnapshot(t, "strict")
	r, _ := translate.ForProxy(s, echoV1Envoy)
	if err := validateResources(r); err != nil {
		t.Fatal(err)
	}

	l := findListener(r, "inbound|50051")
	if l == nil || len(l.GetFilterChains()) != 1 || len(l.GetListenerFilters()) != 0 {
		t.Fatalf("inbound listener = %v, want one filter chain and no listener filters", l)
	}
	d := downstreamTLS(t, l.GetFilterChains()[0].GetTransportSocket())
	if d == nil || !d.GetRequireClientCertificate().GetValue() {
		t.Fatalf("inbound TLS = %v, want a required client certificate", d)
	}
	checkSDSContext(t, "inbound", d.GetCommonTlsContext())
	if got := exactSANs(d.GetCommonTlsContext().GetCombinedValidationContext().GetDefaultValidationContext().GetMatchTypedSubjectAltNames()); !reflect.DeepEqual(got, []string{"prefix:spiffe://corp.example/"}) {
		t.Errorf("inbound SANs = %v", got)
	}

	echo := upstreamTLS(t, findCluster(r, "outbound|50051||echo.demo"))
	if echo == nil {
		t.Fatal("echo cluster has no TLS")
	}
	checkSDSContext(t, "echo cluster", echo.GetCommonTlsContext())
	want := []string{"spiffe://corp.example/ns/demo/sa/echo", "spiffe://corp.example/ns/demo/sa/echo-canary"}
	if got := exactSANs(echo.GetCommonTlsContext().GetCombinedValidationContext().GetDefaultValidationContext().GetMatchTypedSubjectAltNames()); !reflect.DeepEqual(got, want) {
		t.Errorf("echo SANs = %v, want %v (the Service's spec.serviceAccounts, sorted)", got, want)
	}
	if addrs := endpointAddresses(r, "outbound|50051||echo.demo"); !reflect.DeepEqual(addrs, []string{"10.0.1.1", "10.0.1.2", "10.0.1.3"}) {
		t.Errorf("echo endpoints = %v, want echo-v1..v3 and not echo-x, whose service account echo does not allow", addrs)
	}
	if echo.GetSni() != "echo.demo" || !reflect.DeepEqual(echo.GetCommonTlsContext().GetAlpnProtocols(), []string{"h2"}) {
		t.Errorf("echo sni %q alpn %v", echo.GetSni(), echo.GetCommonTlsContext().GetAlpnProtocols())
	}

	web := upstreamTLS(t, findCluster(r, "outbound|8080||web.demo"))
	if got := exactSANs(web.GetCommonTlsContext().GetCombinedValidationContext().GetDefaultValidationContext().GetMatchTypedSubjectAltNames()); !reflect.DeepEqual(got, []string{"spiffe://corp.example/ns/demo/sa/web"}) {
		t.Errorf("web SANs = %v, want the default service account web, which the static endpoint must hold too", got)
	}
	if len(web.GetCommonTlsContext().GetAlpnProtocols()) != 0 {
		t.Errorf("http/1 cluster offers ALPN %v", web.GetCommonTlsContext().GetAlpnProtocols())
	}
	if upstreamTLS(t, findCluster(r, "outbound|9090||web.demo")) == nil {
		t.Error("tcp cluster is plaintext in STRICT")
	}
}

func TestEnvoyPermissive(t *testing.T) {
	r, _ := translate.ForProxy(mtlsSnapshot(t, "permissive"), echoV1Envoy)
	if err := validateResources(r); err != nil {
		t.Fatal(err)
	}
	l := findListener(r, "inbound|50051")
	lf := l.GetListenerFilters()
	if len(lf) != 1 || lf[0].GetName() != "envoy.filters.listener.tls_inspector" {
		t.Fatalf("listener filters = %v, want the TLS inspector", lf)
	}
	fcs := l.GetFilterChains()
	if len(fcs) != 2 {
		t.Fatalf("%d filter chains, want mtls and plaintext", len(fcs))
	}
	if fcs[0].GetFilterChainMatch().GetTransportProtocol() != "tls" || downstreamTLS(t, fcs[0].GetTransportSocket()) == nil {
		t.Errorf("first chain = %v, want TLS matched on transport_protocol tls", fcs[0])
	}
	if fcs[1].GetFilterChainMatch() != nil || fcs[1].GetTransportSocket() != nil {
		t.Errorf("second chain = %v, want the plaintext default", fcs[1])
	}
	if !reflect.DeepEqual(fcs[0].GetFilters()[0].GetTypedConfig().GetValue(), fcs[1].GetFilters()[0].GetTypedConfig().GetValue()) {
		t.Error("the mtls and plaintext chains route differently")
	}
	if upstreamTLS(t, findCluster(r, "outbound|50051||echo.demo")) == nil {
		t.Error("outbound is plaintext in PERMISSIVE; every member accepts mTLS then")
	}
}

func TestEnvoyDisabled(t *testing.T) {
	r, _ := translate.ForProxy(mtlsSnapshot(t, "disabled"), echoV1Envoy)
	for _, l := range r.Listeners {
		if len(l.GetListenerFilters()) != 0 {
			t.Errorf("listener %s has listener filters", l.GetName())
		}
		for _, fc := range l.GetFilterChains() {
			if fc.GetTransportSocket() != nil {
				t.Errorf("listener %s has a transport socket", l.GetName())
			}
		}
	}
	for _, c := range r.Clusters {
		if c.GetTransportSocket() != nil {
			t.Errorf("cluster %s has a transport socket", c.GetName())
		}
	}
}

func TestProxylessClientTLS(t *testing.T) {
	for _, mode := range []string{"strict", "permissive"} {
		r, _ := translate.ProxylessClient(mtlsSnapshot(t, mode))
		u := upstreamTLS(t, findCluster(r, "outbound|50051||echo.demo"))
		c := u.GetCommonTlsContext()
		if c.GetTlsCertificateProviderInstance().GetInstanceName() != "default" ||
			c.GetValidationContext().GetCaCertificateProviderInstance().GetInstanceName() != "default" {
			t.Fatalf("%s: proxyless TLS = %v, want certificate provider instance default for both", mode, c)
		}
		if len(c.GetTlsCertificateSdsSecretConfigs()) != 0 {
			t.Errorf("%s: proxyless cluster names SDS secrets; gRPC never uses SDS", mode)
		}
		var sans []string
		for _, m := range c.GetValidationContext().GetMatchSubjectAltNames() {
			sans = append(sans, m.GetExact())
		}
		if want := []string{"spiffe://corp.example/ns/demo/sa/echo", "spiffe://corp.example/ns/demo/sa/echo-canary"}; !reflect.DeepEqual(sans, want) {
			t.Errorf("%s: SANs = %v, want %v", mode, sans, want)
		}
	}
	r, _ := translate.ProxylessClient(mtlsSnapshot(t, "disabled"))
	if upstreamTLS(t, findCluster(r, "outbound|50051||echo.demo")) != nil {
		t.Error("proxyless cluster has TLS in DISABLED")
	}
}

func TestProxylessServer(t *testing.T) {
	cases := map[string]struct {
		tls, require bool
		diag         string
	}{
		"strict":     {tls: true, require: true},
		"permissive": {tls: true, require: false, diag: "proxyless gRPC server on port 50051 cannot accept plaintext in PERMISSIVE mode; it accepts TLS with an optional client certificate"},
		"disabled":   {},
	}
	for mode, want := range cases {
		t.Run(mode, func(t *testing.T) {
			r, diags := translate.ForProxy(mtlsSnapshot(t, mode), echoV1Proxyless)
			if err := validateResources(r); err != nil {
				t.Fatal(err)
			}
			l := findListener(r, echoServerListener)
			if l == nil {
				t.Fatalf("no %s among %d listeners", echoServerListener, len(r.Listeners))
			}
			if findListener(r, "echo.demo:50051") == nil {
				t.Error("the server lost its client listeners")
			}
			sa := l.GetAddress().GetSocketAddress()
			if sa.GetAddress() != "10.0.1.1" || sa.GetPortValue() != 50051 {
				t.Errorf("address = %v", sa)
			}
			if len(l.GetFilterChains()) != 1 || len(l.GetListenerFilters()) != 0 {
				t.Fatalf("want one filter chain and no listener filters (gRPC refuses them): %v", l)
			}
			fc := l.GetFilterChains()[0]
			h := &hcm.HttpConnectionManager{}
			if err := fc.GetFilters()[0].GetTypedConfig().UnmarshalTo(h); err != nil {
				t.Fatal(err)
			}
			vh := h.GetRouteConfig().GetVirtualHosts()
			if h.GetStatPrefix() == "" || len(vh) != 1 || !reflect.DeepEqual(vh[0].GetDomains(), []string{"*"}) || vh[0].GetRoutes()[0].GetNonForwardingAction() == nil {
				t.Errorf("server HCM = %v, want an inline route with NonForwardingAction on *", h)
			}
			if f := h.GetHttpFilters(); f[len(f)-1].GetName() != "envoy.filters.http.router" {
				t.Errorf("http filters do not end with the router: %v", f)
			}
			d := downstreamTLS(t, fc.GetTransportSocket())
			if (d != nil) != want.tls {
				t.Fatalf("TLS = %v, want %v", d, want.tls)
			}
			if d != nil {
				c := d.GetCommonTlsContext()
				if d.GetRequireClientCertificate().GetValue() != want.require {
					t.Errorf("require_client_certificate = %v, want %v", d.GetRequireClientCertificate(), want.require)
				}
				if c.GetTlsCertificateProviderInstance().GetInstanceName() != "default" || c.GetValidationContext().GetCaCertificateProviderInstance().GetInstanceName() != "default" {
					t.Errorf("server TLS = %v", c)
				}
				if len(c.GetValidationContext().GetMatchSubjectAltNames()) != 0 {
					t.Error("server matches SANs; gRPC refuses that on the server side")
				}
			}
			if want.diag != "" && !hasDiagnostic(diags, "Workload/demo/echo-v1", want.diag) {
				t.Errorf("diagnostics %+v lack %q", diags, want.diag)
			}
		})
	}
}

// TestProxylessClientIsNotAServer: a node id that names no workload is a
// plain client, with no server listeners and nothing to complain about.
func TestProxylessClientIsNotAServer(t *testing.T) {
	s := mtlsSnapshot(t, "strict")
	r, diags := translate.ForProxy(s, translate.Proxy{ID: "client.demo", Flavour: translate.Proxyless})
	client, clientDiags := translate.ProxylessClient(s)
	if len(r.Listeners) != len(client.Listeners) || len(diags) != len(clientDiags) {
		t.Errorf("client node got %d listeners and %v, want the shared %d and %v", len(r.Listeners), diags, len(client.Listeners), clientDiags)
	}
	for _, l := range r.Listeners {
		if strings.HasPrefix(l.GetName(), "grpc/server?") {
			t.Errorf("client node got server listener %s", l.GetName())
		}
	}
	_, diags = translate.ProxylessServer(s, translate.Proxy{ID: "nope.demo", Flavour: translate.Proxyless, Workload: "nope", Namespace: "demo"})
	if !hasDiagnostic(diags, "Workload/demo/nope", `proxy "nope.demo" names a workload that does not exist; it gets no server listeners`) {
		t.Errorf("diagnostics = %+v", diags)
	}
}

func TestIdentityNames(t *testing.T) {
	if got := dataplane.SDSSecretNames(); !reflect.DeepEqual(got, []string{"default", "ROOTCA"}) {
		t.Errorf("SDSSecretNames = %v", got)
	}
	if got := dataplane.ControlPlaneIDString("corp.example"); got != "spiffe://corp.example/ns/embassy-system/sa/embassy-cp" {
		t.Errorf("ControlPlaneIDString = %q", got)
	}
	if got := translate.ServerListenerName("::1", 8080); got != "grpc/server?xds.resource.listening_address=[::1]:8080" {
		t.Errorf("ServerListenerName = %q", got)
	}
}

// endpointAddresses lists the addresses of a cluster's endpoints, in the
// order they are served.
func endpointAddresses(r *translate.Resources, cluster string) []string {
	var out []string
	for _, cla := range r.Endpoints {
		if cla.GetClusterName() != cluster {
			continue
		}
		for _, l := range cla.GetEndpoints() {
			for _, e := range l.GetLbEndpoints() {
				out = append(out, e.GetEndpoint().GetAddress().GetSocketAddress().GetAddress())
			}
		}
	}
	return out
}
