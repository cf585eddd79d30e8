// Package envoy_test keeps bootstrap.yaml.tmpl in step with what
// pkg/bootstrap generates, so the documented template never drifts.
package envoy_test

import (
	"bytes"
	"os"
	"testing"
	"text/template"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"

	"embassy.dev/embassy/pkg/bootstrap"
)

func TestTemplateMatchesGenerator(t *testing.T) {
	src, err := os.ReadFile("bootstrap.yaml.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New("bootstrap").Option("missingkey=error").Parse(string(src))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		values map[string]any
		opts   bootstrap.EnvoyOptions
	}{
		{
			map[string]any{"NodeID": "reviews-v1.shop", "Namespace": "shop", "AdminAddress": "", "XDSHost": "127.0.0.1", "XDSPort": 15010, "XDSType": "STATIC",
				"SocketDir": "/run/embassy/reviews-v1.shop", "TrustDomain": "example.org", "Insecure": false},
			bootstrap.EnvoyOptions{NodeID: "reviews-v1.shop", TrustDomain: "example.org"},
		},
		{
			map[string]any{"NodeID": "reviews-v1.shop", "Namespace": "shop", "AdminAddress": "", "XDSHost": "127.0.0.1", "XDSPort": 15010, "XDSType": "STATIC",
				"SocketDir": "/var/run/agent", "TrustDomain": "", "Insecure": true},
			bootstrap.EnvoyOptions{NodeID: "reviews-v1.shop", SocketDir: "/var/run/agent", Insecure: true},
		},
		{
			map[string]any{"NodeID": "web-1.web", "Namespace": "web", "AdminAddress": "127.0.0.1", "AdminPort": 9901, "XDSHost": "embassy-cp.example.org", "XDSPort": 15010, "XDSType": "STRICT_DNS",
				"SocketDir": "/run/embassy/web-1.web", "TrustDomain": "corp.example", "Insecure": false},
			bootstrap.EnvoyOptions{NodeID: "web-1.web", AdminAddress: "127.0.0.1:9901", XDSAddress: "embassy-cp.example.org:15010", TrustDomain: "corp.example"},
		},
	}
	for _, tc := range cases {
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, tc.values); err != nil {
			t.Fatal(err)
		}
		js, err := yaml.YAMLToJSON(buf.Bytes())
		if err != nil {
			t.Fatalf("rendered template is not YAML: %v\n%s", err, buf.String())
		}
		got := &bootstrapv3.Bootstrap{}
		if err := protojson.Unmarshal(js, got); err != nil {
			t.Fatalf("rendered template is not a Bootstrap: %v", err)
		}
		want, err := bootstrap.Envoy(tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, want) {
			wy, _ := bootstrap.EnvoyYAML(tc.opts)
			t.Errorf("template for %s differs from pkg/bootstrap:\n--- template\n%s\n--- generated\n%s", tc.opts.NodeID, buf.String(), wy)
		}
	}
}
