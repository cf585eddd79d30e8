package bootstrap

import (
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
)

// xdsConnectTimeout bounds one connection attempt to embassy-cp; Envoy
// retries with backoff, so a short value only makes recovery faster.
const xdsConnectTimeout = time.Second

// xdsTransportSocket is how an Envoy sidecar secures its xDS stream. It is
// plaintext on purpose until agents deliver SVIDs for it: the control plane
// listens on loopback by default. This is the one place that changes when
// xDS moves to mTLS.
func xdsTransportSocket() *corev3.TransportSocket { return nil }

// grpcChannelCreds is how a proxyless gRPC application secures its xDS
// stream, in the bootstrap's channel_creds form. Like xdsTransportSocket it
// is the one place that changes when xDS moves to mTLS.
func grpcChannelCreds() []channelCreds {
	return []channelCreds{{Type: "insecure"}}
}
