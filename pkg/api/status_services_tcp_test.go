package api

import (
	"testing"

	"embassy.dev/embassy/internal/meshtest"
	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/mesh"
)

// TestServicesReportTCPAddress checks /v1/services tells operators where
// apps reach a tcp service through their sidecar, and says nothing of one
// for an HTTP-only service.
func TestServicesReportTCPAddress(t *testing.T) {
	h := serve(t, Options{})
	redis := "apiVersion: embassy.dev/v1alpha1\nkind: Service\nmetadata: {name: redis}\nspec: {ports: [{name: redis, port: 6379, protocol: tcp}]}\n"
	h.mustApply(apiwire.File{Name: "m.yaml", Content: meshtest.ServiceEcho + "---\n" + redis})
	svcs := getJSON[apiwire.ServicesResponse](h, "/v1/services")
	got := map[string]string{}
	for _, s := range svcs.Services {
		got[s.Name] = s.TCPAddress
	}
	want := mesh.ServiceRef{Namespace: "default", Name: "redis"}.TCPAddress()
	if got["redis"] != want || got["echo"] != "" {
		t.Fatalf("tcp addresses %v, want redis at %s and none for echo", got, want)
	}
}
