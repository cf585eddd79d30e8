package bootstrap_test

import (
	"encoding/json"
	"strings"
	"testing"

	"embassy.dev/embassy/pkg/bootstrap"
)

// A relay bootstrap has one xds_server, the agent's relay socket, over
// plaintext; the data-plane certificates still come from the agent's
// PEM files, in the relay's directory unless --cert-dir names another.
func TestGRPCJSONThroughTheAgentsRelay(t *testing.T) {
	for _, tc := range []struct{ certDir, wantCerts string }{
		{"", "/run/embassy/client.default/svid.pem"},
		{"/etc/certs", "/etc/certs/svid.pem"},
	} {
		js, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: "client.default", XDSRelayDir: "/run/embassy/client.default",
			XDSAddress: "10.0.0.1:15010", CertDir: tc.certDir})
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			XDSServers []struct {
				ServerURI    string `json:"server_uri"`
				ChannelCreds []struct {
					Type string `json:"type"`
				} `json:"channel_creds"`
			} `json:"xds_servers"`
			CertificateProviders map[string]struct {
				Config map[string]string `json:"config"`
			} `json:"certificate_providers"`
		}
		if err := json.Unmarshal(js, &b); err != nil {
			t.Fatal(err)
		}
		if len(b.XDSServers) != 1 || b.XDSServers[0].ServerURI != "unix:///run/embassy/client.default/xds.sock" ||
			len(b.XDSServers[0].ChannelCreds) != 1 || b.XDSServers[0].ChannelCreds[0].Type != "insecure" {
			t.Errorf("cert dir %q: xds_servers %+v, want the relay socket alone, insecure", tc.certDir, b.XDSServers)
		}
		for name, p := range b.CertificateProviders {
			if got := p.Config["certificate_file"]; got != tc.wantCerts {
				t.Errorf("cert dir %q: provider %s reads %s, want %s", tc.certDir, name, got, tc.wantCerts)
			}
		}
	}
}

func TestGRPCJSONRelayDirRefusedClearly(t *testing.T) {
	for dir, want := range map[string]string{
		"run/embassy/client.default":   "absolute path",
		"/" + strings.Repeat("d", 100): "longer than the 107",
	} {
		if _, err := bootstrap.GRPCJSON(bootstrap.GRPCOptions{NodeID: "client.default", XDSRelayDir: dir}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("relay dir %q: %v, want %q", dir, err, want)
		}
	}
}
