// Package deps pins modules that later packages import, so go mod tidy keeps them.
package deps

import (
	_ "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	_ "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	_ "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	_ "github.com/hashicorp/go-hclog"
	_ "github.com/open-policy-agent/opa/v1/rego"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/spf13/cobra"
	_ "github.com/spiffe/go-spiffe/v2/workloadapi"
	_ "go.etcd.io/bbolt"
	_ "go.etcd.io/etcd/client/v3"
	_ "google.golang.org/grpc/credentials/xds"
	_ "google.golang.org/grpc/xds"
	_ "sigs.k8s.io/yaml"
)
