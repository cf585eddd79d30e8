package bench

import (
	"context"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	serverv3 "github.com/envoyproxy/go-control-plane/pkg/server/v3"
	"google.golang.org/protobuf/proto"
)

// tracker gives the baseline server what embassy-cp's status shows: which
// proxies are connected over which protocol, what was sent, and what was
// ACKed. It hears everything through go-control-plane's callbacks.
type tracker struct {
	mu      sync.Mutex
	streams map[int64]*trackedStream
	// types is keyed by node id, then type URL.
	types map[string]map[string]*trackedType
	sent  pushStats
}

type trackedStream struct {
	mode Mode
	node string
}

// trackedType is the last response of one type to one node, and whether
// it was ACKed.
type trackedType struct {
	nonce  string
	sentAt time.Time
	acked  bool
}

func newTracker() *tracker {
	return &tracker{streams: map[int64]*trackedStream{}, types: map[string]map[string]*trackedType{}}
}

func (t *tracker) callbacks() serverv3.Callbacks {
	return serverv3.CallbackFuncs{
		StreamOpenFunc:      func(_ context.Context, id int64, _ string) error { t.open(id, SotW); return nil },
		DeltaStreamOpenFunc: func(_ context.Context, id int64, _ string) error { t.open(id, Delta); return nil },
		StreamClosedFunc:    func(id int64, _ *corev3.Node) { t.closed(id) },
		DeltaStreamClosedFunc: func(id int64, _ *corev3.Node) {
			t.closed(id)
		},
		StreamRequestFunc: func(id int64, r *discoveryv3.DiscoveryRequest) error {
			t.request(id, r.GetNode().GetId(), r.GetTypeUrl(), r.GetResponseNonce(), r.GetErrorDetail() == nil)
			return nil
		},
		StreamDeltaRequestFunc: func(id int64, r *discoveryv3.DeltaDiscoveryRequest) error {
			t.request(id, r.GetNode().GetId(), r.GetTypeUrl(), r.GetResponseNonce(), r.GetErrorDetail() == nil)
			return nil
		},
		StreamResponseFunc: func(_ context.Context, id int64, _ *discoveryv3.DiscoveryRequest, r *discoveryv3.DiscoveryResponse) {
			t.response(id, r.GetTypeUrl(), r.GetNonce(), proto.Size(r))
		},
		StreamDeltaResponseFunc: func(id int64, _ *discoveryv3.DeltaDiscoveryRequest, r *discoveryv3.DeltaDiscoveryResponse) {
			t.response(id, r.GetTypeUrl(), r.GetNonce(), proto.Size(r))
		},
	}
}

func (t *tracker) open(id int64, mode Mode) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.streams[id] = &trackedStream{mode: mode}
}

func (t *tracker) closed(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.streams, id)
}

// request notes the stream's node (only the first request need name it)
// and an ACK: a request echoing the nonce of the type's last response,
// without an error.
func (t *tracker) request(id int64, node, typeURL, nonce string, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.streams[id]
	if s == nil {
		return
	}
	if s.node == "" {
		s.node = node
	}
	if tt := t.types[s.node][typeURL]; tt != nil && nonce != "" && nonce == tt.nonce && ok {
		tt.acked = true
	}
}

func (t *tracker) response(id int64, typeURL, nonce string, size int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.streams[id]
	if s == nil {
		return
	}
	k := &t.sent.sotw
	if s.mode == Delta {
		k = &t.sent.delta
	}
	k.responses++
	k.bytes += int64(size)
	if t.types[s.node] == nil {
		t.types[s.node] = map[string]*trackedType{}
	}
	t.types[s.node][typeURL] = &trackedType{nonce: nonce, sentAt: time.Now()}
}

func (t *tracker) stats() pushStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sent
}

func (t *tracker) connected(ids map[string]bool, mode Mode) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := map[string]bool{}
	for _, s := range t.streams {
		if ids[s.node] && s.mode == mode {
			seen[s.node] = true
		}
	}
	return len(seen)
}

func (t *tracker) ackedSince(ids map[string]bool, typeURL string, at time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for node, byType := range t.types {
		if tt := byType[typeURL]; ids[node] && tt != nil && tt.acked && !tt.sentAt.Before(at) {
			n++
		}
	}
	return n
}
