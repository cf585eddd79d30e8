package cache

import (
	"sort"
	"strings"
	"sync"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// The snapshot cache builds a new response for every watch it answers,
// and each response marshals its resources again: a push of one shared
// change to N state-of-the-world proxies marshalled every cluster and
// endpoint N times. sharedCache marshals a response's resources once and
// hands the same encoded resources to every other watch answered with the
// same content (the same type, version and resource names), each in a
// DiscoveryResponse of its own for the server to set its nonce on.

// sharedCache is the snapshot cache with SotW responses shared across
// watches. It is what the xDS server serves from.
type sharedCache struct {
	cachev3.SnapshotCache
	encoded *encodedResponses
}

// CreateWatch opens the watch on the snapshot cache with a channel of its
// own, and forwards the one response the cache sends on it, shared, to
// out. The forwarder ends with the watch.
func (c *sharedCache) CreateWatch(req *cachev3.Request, sub cachev3.Subscription, out chan cachev3.Response) (func(), error) {
	// The cache answers a state-of-the-world watch at most once, possibly
	// before CreateWatch returns, and never blocks: one slot is enough.
	in := make(chan cachev3.Response, 1)
	cancel, err := c.SnapshotCache.CreateWatch(req, sub, in)
	if err != nil {
		return nil, err
	}
	stop := make(chan struct{})
	go func() {
		select {
		case resp := <-in:
			select {
			case out <- c.encoded.share(resp):
			case <-stop:
			}
		case <-stop:
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			if cancel != nil {
				cancel()
			}
		})
	}, nil
}

// encodedResponses keeps the encoded resources of recent responses by
// content. Entries live for the current and the previous generation of
// snapshots, so memory follows what proxies are being sent, not history.
type encodedResponses struct {
	mu        sync.Mutex
	cur, prev map[string]*encoded
}

// encoded is one response's resources, encoded once.
type encoded struct {
	once      sync.Once
	resources []*anypb.Any
	err       error
}

func newEncodedResponses() *encodedResponses {
	return &encodedResponses{cur: map[string]*encoded{}, prev: map[string]*encoded{}}
}

// rotate starts a new generation; entries of the one before last go.
func (e *encodedResponses) rotate() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prev, e.cur = e.cur, map[string]*encoded{}
}

// share returns resp with its resources encoded once per content. A
// response it cannot key (not the snapshot cache's raw kind, or with TTLs
// or heartbeats) is returned as it is.
func (e *encodedResponses) share(resp cachev3.Response) cachev3.Response {
	raw, ok := resp.(*cachev3.RawResponse)
	if !ok || raw.Heartbeat {
		return resp
	}
	for _, r := range raw.GetRawResources() {
		if r.TTL != nil {
			return resp
		}
	}
	key := contentKey(raw)
	e.mu.Lock()
	enc := e.cur[key]
	if enc == nil {
		if enc = e.prev[key]; enc == nil {
			enc = &encoded{}
		}
		e.cur[key] = enc
	}
	e.mu.Unlock()
	enc.once.Do(func() {
		out, err := raw.GetDiscoveryResponse()
		if err != nil {
			enc.err = err
			return
		}
		enc.resources = out.Resources
	})
	if enc.err != nil {
		return resp
	}
	return &sharedResponse{Response: resp, resources: enc.resources}
}

// contentKey identifies a response's content: its type, version and the
// names of the resources it returns. A version is a hash of the type's
// content in the snapshot, but two snapshots may hold the same version
// for different names (authorization bundles are versioned by revision),
// so the names are part of the key.
func contentKey(raw *cachev3.RawResponse) string {
	returned := raw.GetReturnedResources()
	names := make([]string, 0, len(returned))
	for n := range returned {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(raw.GetRequest().GetTypeUrl())
	b.WriteByte(0)
	b.WriteString(raw.Version)
	for _, n := range names {
		b.WriteByte(0)
		b.WriteString(n)
	}
	return b.String()
}

// sharedResponse is a raw response whose resources were encoded for
// another watch with the same content. Everything but the encoded
// resources is the raw response's own.
type sharedResponse struct {
	cachev3.Response
	resources []*anypb.Any

	once sync.Once
	out  *discovery.DiscoveryResponse
}

// GetDiscoveryResponse returns a response of its own (the server sets
// its nonce) over the shared encoded resources, which nobody modifies.
func (r *sharedResponse) GetDiscoveryResponse() (*discovery.DiscoveryResponse, error) {
	r.once.Do(func() {
		r.out = &discovery.DiscoveryResponse{
			VersionInfo: r.GetResponseVersion(),
			Resources:   r.resources,
			TypeUrl:     r.GetRequest().GetTypeUrl(),
		}
	})
	return r.out, nil
}
