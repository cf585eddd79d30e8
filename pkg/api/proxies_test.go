package api

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/status"
)

type errorString string

func (e errorString) Error() string { return string(e) }

// copyBody reads and closes a response body.
func copyBody(w io.Writer, resp *http.Response) (int64, error) {
	defer resp.Body.Close()
	return io.Copy(w, resp.Body)
}

func TestProxiesComeFromTheRegistry(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	reg := meshtest.Registry{{
		ID: "echo-1.default", Flavour: "envoy", XDS: "delta", ConnectedSince: at,
		Types: map[string]status.TypeStatus{
			"type.googleapis.com/envoy.config.cluster.v3.Cluster": {VersionSent: "3", VersionAcked: "3", SentAt: at, AckedAt: at},
		},
	}}
	h := newHarness(t, reg)
	out := getJSON[apiwire.ProxiesResponse](h, "/v1/proxies")
	if len(out.Proxies) != 1 || out.Proxies[0].ID != "echo-1.default" || out.Proxies[0].Types["type.googleapis.com/envoy.config.cluster.v3.Cluster"].VersionAcked != "3" {
		t.Fatalf("proxies = %+v", out.Proxies)
	}

	empty := newHarness(t, nil)
	_, body := empty.do(http.MethodGet, "/v1/proxies", testToken, nil)
	if !strings.Contains(string(body), `"proxies": []`) {
		t.Fatalf("no registry should answer an empty list, got %s", body)
	}
}
