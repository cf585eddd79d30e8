// Package sds is the shape in which Envoy fetches the agent's secrets:
// over gRPC from the bootstrap's static cluster on the agent's SDS socket.
// The translator's listeners and clusters and the bootstrap's xDS cluster
// build their TLS contexts from it, so the two never drift.
package sds

import (
	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tls "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"

	"embassy.dev/embassy/pkg/dataplane"
)

// Config names a secret Envoy fetches from the agent: over gRPC through
// the static cluster dataplane.SDSClusterName.
func Config(name string) *tls.SdsSecretConfig {
	return &tls.SdsSecretConfig{
		Name: name,
		SdsConfig: &core.ConfigSource{
			ResourceApiVersion: core.ApiVersion_V3,
			ConfigSourceSpecifier: &core.ConfigSource_ApiConfigSource{ApiConfigSource: &core.ApiConfigSource{
				ApiType:             core.ApiConfigSource_GRPC,
				TransportApiVersion: core.ApiVersion_V3,
				GrpcServices: []*core.GrpcService{{TargetSpecifier: &core.GrpcService_EnvoyGrpc_{
					EnvoyGrpc: &core.GrpcService_EnvoyGrpc{ClusterName: dataplane.SDSClusterName},
				}}},
			}},
		},
	}
}

// CommonTLSContext presents the workload certificate and validates the
// peer against the trust bundle, both over SDS, accepting peers whose SAN
// matches one of sans.
func CommonTLSContext(sans []*tls.SubjectAltNameMatcher, alpn []string) *tls.CommonTlsContext {
	return &tls.CommonTlsContext{
		TlsCertificateSdsSecretConfigs: []*tls.SdsSecretConfig{Config(dataplane.SecretCert)},
		ValidationContextType: &tls.CommonTlsContext_CombinedValidationContext{
			CombinedValidationContext: &tls.CommonTlsContext_CombinedCertificateValidationContext{
				DefaultValidationContext:         &tls.CertificateValidationContext{MatchTypedSubjectAltNames: sans},
				ValidationContextSdsSecretConfig: Config(dataplane.SecretRootCA),
			},
		},
		AlpnProtocols: alpn,
	}
}
