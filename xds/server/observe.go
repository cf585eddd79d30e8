package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/xds/cache"
)

// Metrics hears what the server sends and what proxies answer. Calls are
// synchronous on stream goroutines and the push loop: implementations
// must be quick and safe for concurrent use.
type Metrics interface {
	// ResponseSent counts one response of typeURL.
	ResponseSent(typeURL string)
	// Answered records a proxy's answer to a response of typeURL, took
	// after it was sent.
	Answered(typeURL string, took time.Duration, nacked bool)
	// Pushed records one push of a mesh snapshot to the cache.
	Pushed(took time.Duration)
}

// noMetrics is the Metrics of a server configured without any.
type noMetrics struct{}

func (noMetrics) ResponseSent(string)                  {}
func (noMetrics) Answered(string, time.Duration, bool) {}
func (noMetrics) Pushed(time.Duration)                 {}

// noEvents drops events.
type noEvents struct{}

func (noEvents) Publish(events.Event) {}

// onPush reports a push as an event and to the metrics, and each distinct
// reason the push refused to serve some proxies as an event naming them,
// what was refused and why, and the mesh resources that produced it.
func onPush(ev events.Publisher, m Metrics) func(cache.PushInfo) {
	return func(p cache.PushInfo) {
		m.Pushed(p.Took)
		at := p.At.Add(p.Took)
		ev.Publish(events.Event{Time: at, Kind: events.KindPush, Revision: p.Revision, DurationSeconds: p.Took.Seconds(), Proxies: p.Nodes})
		for _, r := range p.Refusals {
			err := p.Refused[r.Proxies[0]]
			ev.Publish(events.Event{Time: at, Kind: events.KindRefused, Revision: p.Revision, Proxy: r.Proxies[0], Resources: r.Inputs, Refusal: &r,
				// One line, as events are printed one a line.
				Message: fmt.Sprintf("not served to %s, which keep their previous configuration: %s", strings.Join(r.Proxies, ", "), strings.ReplaceAll(err.Error(), "\n", "; "))})
		}
	}
}

// peerIdentity is the SPIFFE ID of a stream's TLS client certificate, or
// "" for plaintext streams and certificates without one.
func peerIdentity(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	p, ok := peer.FromContext(ctx)
	if !ok {
		return ""
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.PeerCertificates) == 0 {
		return ""
	}
	id, err := x509svid.IDFromCert(ti.State.PeerCertificates[0])
	if err != nil {
		return ""
	}
	return id.String()
}
