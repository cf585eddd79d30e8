package agent

import (
	"context"
	"fmt"
	"strconv"

	"embassy.dev/embassy/pkg/dataplane"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	secretservice "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
)

// sdsNode is the one cache key: the SDS socket is local to one workload,
// so whatever node id its Envoy sends gets the same secrets.
const sdsNode = "workload"

// SDS serves the workload's secrets to its Envoy over the secret discovery
// service, state of the world and delta: dataplane.SecretCert (chain and key, inline)
// and dataplane.SecretRootCA (the bundle). The key travels only over the local unix
// socket to Envoy on the same node.
type SDS struct {
	cache  cachev3.SnapshotCache
	server serverv3.Server
	cancel context.CancelFunc
	log    hclog.Logger
}

// NewSDS returns an SDS server with nothing to serve until Update.
func NewSDS(log hclog.Logger) *SDS {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := cachev3.NewSnapshotCache(false, oneNode{}, quietLogger{log})
	return &SDS{cache: c, server: serverv3.NewServer(ctx, c, nil), cancel: cancel, log: log}
}

// Register adds the secret discovery service to g.
func (s *SDS) Register(g *grpc.Server) {
	secretservice.RegisterSecretDiscoveryServiceServer(g, s.server)
}

// Update pushes the identity to every stream. Without an SVID only
// dataplane.SecretRootCA is served: dataplane.SecretCert is withheld (delta streams see it
// removed) until a renewal succeeds.
func (s *SDS) Update(id *Identity) error {
	var secrets []types.Resource
	if id.SVID != nil {
		key, err := id.KeyPEM()
		if err != nil {
			return err
		}
		secrets = append(secrets, CertSecret(id.ChainPEM(), key))
	}
	if len(id.Roots) > 0 {
		secrets = append(secrets, RootCASecret(id.BundlePEM()))
	}
	snap, err := cachev3.NewSnapshot(strconv.FormatUint(id.Generation, 10), map[resource.Type][]types.Resource{resource.SecretType: secrets})
	if err != nil {
		return fmt.Errorf("SDS snapshot: %w", err)
	}
	return s.cache.SetSnapshot(context.Background(), sdsNode, snap)
}

// Close ends the open streams.
func (s *SDS) Close() { s.cancel() }

// CertSecret is the SDS secret dataplane.SecretCert: a TLS certificate with inline
// chain and key.
func CertSecret(chainPEM, keyPEM []byte) *tlsv3.Secret {
	return &tlsv3.Secret{
		Name: dataplane.SecretCert,
		Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
			CertificateChain: inlineBytes(chainPEM),
			PrivateKey:       inlineBytes(keyPEM),
		}},
	}
}

// RootCASecret is the SDS secret dataplane.SecretRootCA: a validation context that
// trusts the bundle.
func RootCASecret(bundlePEM []byte) *tlsv3.Secret {
	return &tlsv3.Secret{
		Name: dataplane.SecretRootCA,
		Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{
			TrustedCa: inlineBytes(bundlePEM),
		}},
	}
}

func inlineBytes(b []byte) *corev3.DataSource {
	return &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: b}}
}

type oneNode struct{}

func (oneNode) ID(*corev3.Node) string { return sdsNode }

// quietLogger passes go-control-plane's warnings and errors on and drops
// its per-request debug and info lines.
type quietLogger struct{ l hclog.Logger }

func (quietLogger) Debugf(string, ...any)               {}
func (quietLogger) Infof(string, ...any)                {}
func (q quietLogger) Warnf(format string, args ...any)  { q.l.Warn(fmt.Sprintf(format, args...)) }
func (q quietLogger) Errorf(format string, args ...any) { q.l.Error(fmt.Sprintf(format, args...)) }
