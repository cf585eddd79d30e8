package server

import (
	"context"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/xds/cache"
)

// go-control-plane invokes these callbacks synchronously on each stream's
// goroutine, before it creates the request's watch or sends the response.
var _ serverv3.Callbacks = (*tracker)(nil)

// OnStreamOpen records a new SotW stream.
func (t *tracker) OnStreamOpen(ctx context.Context, id int64, typeURL string) error {
	t.open(ctx, streamKey{kindSotW, id}, typeURL)
	return nil
}

// OnStreamClosed forgets a SotW stream.
func (t *tracker) OnStreamClosed(id int64, _ *core.Node) { t.close(streamKey{kindSotW, id}) }

// OnStreamRequest vets and records a SotW request, for go-control-plane's
// server, which serves only fetches: streams are Embassy's (sotwRequest).
func (t *tracker) OnStreamRequest(id int64, req *discovery.DiscoveryRequest) error {
	return t.sotwRequest(id, req, nil, nil)
}

// sotwRequest vets and records a SotW request; an answer to a sent
// nonce acknowledges the version it carries, or rejects the one it was
// sent. A refused request's error ends the stream with its status. sub
// is the stream's subscription once it took the request's names (nil
// for a request the stream ignores), and names returns those names,
// which a stream decodes only when they changed.
func (t *tracker) sotwRequest(id int64, req *discovery.DiscoveryRequest, sub *cache.SotwSub, names func() []string) error {
	if err := t.check(streamKey{kindSotW, id}, req.GetNode()); err != nil {
		return err
	}
	var nack *answer
	if d := req.GetErrorDetail(); d != nil {
		nack = &answer{message: d.GetMessage()}
	}
	rejected := t.request(streamKey{kindSotW, id}, req.GetNode(), req.GetTypeUrl(), req.GetResponseNonce(), nack,
		func(sentResponse) string { return req.GetVersionInfo() })
	if sub != nil {
		t.subscribe(streamKey{kindSotW, id}, req.GetTypeUrl(), sub, names)
	}
	if rejected != "" {
		// A NACK carries the last accepted version, so the cache would send
		// the rejected version straight back, and a proxy that rejects it
		// again would loop. Presenting the rejected version makes the watch
		// wait for new content instead.
		req.VersionInfo = rejected
	}
	return nil
}

// OnStreamResponse records a SotW response.
func (t *tracker) OnStreamResponse(_ context.Context, id int64, _ *discovery.DiscoveryRequest, resp *discovery.DiscoveryResponse) {
	t.response(streamKey{kindSotW, id}, resp.GetTypeUrl(), resp.GetNonce(), resp.GetVersionInfo(), proto.Size(resp),
		func(s *served) { s.sentSotW(resp.GetTypeUrl(), resp.GetVersionInfo(), resp.GetResources()) })
}

// OnDeltaStreamOpen records a new delta stream.
func (t *tracker) OnDeltaStreamOpen(ctx context.Context, id int64, typeURL string) error {
	t.open(ctx, streamKey{kindDelta, id}, typeURL)
	return nil
}

// OnDeltaStreamClosed forgets a delta stream.
func (t *tracker) OnDeltaStreamClosed(id int64, _ *core.Node) { t.close(streamKey{kindDelta, id}) }

// OnStreamDeltaRequest vets and records a delta request. Delta requests
// carry no version, so an answer to a sent nonce acknowledges that
// response's system version.
func (t *tracker) OnStreamDeltaRequest(id int64, req *discovery.DeltaDiscoveryRequest) error {
	if err := t.check(streamKey{kindDelta, id}, req.GetNode()); err != nil {
		return err
	}
	var nack *answer
	if d := req.GetErrorDetail(); d != nil {
		nack = &answer{message: d.GetMessage()}
	}
	t.request(streamKey{kindDelta, id}, req.GetNode(), req.GetTypeUrl(), req.GetResponseNonce(), nack,
		func(sent sentResponse) string { return sent.version })
	return nil
}

// OnStreamDeltaResponse records a delta response.
func (t *tracker) OnStreamDeltaResponse(id int64, _ *discovery.DeltaDiscoveryRequest, resp *discovery.DeltaDiscoveryResponse) {
	t.response(streamKey{kindDelta, id}, resp.GetTypeUrl(), resp.GetNonce(), resp.GetSystemVersionInfo(), proto.Size(resp),
		func(s *served) {
			s.sentDelta(resp.GetNonce(), resp.GetSystemVersionInfo(), resp.GetResources(), resp.GetRemovedResources())
		})
}

// OnFetchRequest accepts REST fetches; they hold no stream to track.
func (t *tracker) OnFetchRequest(context.Context, *discovery.DiscoveryRequest) error { return nil }

// OnFetchResponse ignores REST fetch responses.
func (t *tracker) OnFetchResponse(*discovery.DiscoveryRequest, *discovery.DiscoveryResponse) {}
