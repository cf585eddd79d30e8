package cache

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
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
// out.
func (c *sharedCache) CreateWatch(req *cachev3.Request, sub cachev3.Subscription, out chan cachev3.Response) (func(), error) {
	// The cache answers a state-of-the-world watch at most once, possibly
	// before CreateWatch returns, and never blocks: one slot is enough.
	in := make(chan cachev3.Response, 1)
	cancel, err := c.SnapshotCache.CreateWatch(req, sub, in)
	if err != nil {
		return nil, err
	}
	return forward(in, out, c.encoded.share, cancel), nil
}

// CreateDeltaWatch is CreateWatch for incremental watches: each resource
// is encoded once, and every response that carries it shares it.
func (c *sharedCache) CreateDeltaWatch(req *cachev3.DeltaRequest, sub cachev3.Subscription, out chan cachev3.DeltaResponse) (func(), error) {
	// As for state of the world, the cache answers a watch at most once.
	in := make(chan cachev3.DeltaResponse, 1)
	cancel, err := c.SnapshotCache.CreateDeltaWatch(req, sub, in)
	if err != nil {
		return nil, err
	}
	return forward(in, out, c.encoded.shareDelta, cancel), nil
}

// forward passes the one response the cache sends on in, through share,
// to out, and returns the watch's cancel function. That function returns
// only once the forwarder has finished: the server may close out right
// after cancelling (the delta server does), and a response of a cancelled
// watch must not reach the stream after its replacement's, as the cache's
// own ordering guarantees.
func forward[R any](in <-chan R, out chan<- R, share func(R) R, cancelWatch func()) func() {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var resp R
		select {
		case resp = <-in:
		case <-stop:
			return
		}
		resp = share(resp)
		// Cancelled while sharing: drop it rather than race the send.
		select {
		case <-stop:
			return
		default:
		}
		select {
		case out <- resp:
		case <-stop:
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			if cancelWatch != nil {
				cancelWatch()
			}
			close(stop)
			<-done
		})
	}
}

// encodedResponses keeps the encoded resources of recent responses by
// content. Entries live for the current and the previous generation of
// snapshots, so memory follows what proxies are being sent, not history.
type encodedResponses struct {
	mu        sync.Mutex
	cur, prev map[string]*encoded
	// Each resource encoded once, for every response that carries it:
	// delta responses differ per proxy in which resources they carry, and
	// state-of-the-world responses of different shapes share most.
	curRes, prevRes map[types.Resource]*encodedResource
}

// encodedResource is one resource as a delta response carries it.
type encodedResource struct {
	once sync.Once
	res  *discovery.Resource
	err  error
}

// encoded is one response's resources, encoded once.
type encoded struct {
	once      sync.Once
	resources []*anypb.Any
	err       error
}

func newEncodedResponses() *encodedResponses {
	return &encodedResponses{cur: map[string]*encoded{}, prev: map[string]*encoded{},
		curRes: map[types.Resource]*encodedResource{}, prevRes: map[types.Resource]*encodedResource{}}
}

// rotate starts a new generation; entries of the one before last go.
func (e *encodedResponses) rotate() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prev, e.cur = e.cur, map[string]*encoded{}
	e.prevRes, e.curRes = e.curRes, map[types.Resource]*encodedResource{}
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
		// Built from the resources' own encodings, which other shapes'
		// responses (and delta responses) share: a sidecar's clusters
		// differ from another shape's by its inbound ones only.
		typeURL := raw.GetRequest().GetTypeUrl()
		raws := raw.GetRawResources()
		enc.resources = make([]*anypb.Any, 0, len(raws))
		for _, r := range raws {
			res, err := e.resource(r.Resource, typeURL)
			if err != nil {
				enc.err = err
				return
			}
			enc.resources = append(enc.resources, res.Resource)
		}
	})
	if enc.err != nil {
		return resp
	}
	return &sharedResponse{Response: resp, resources: enc.resources}
}

// shareDelta returns resp with each of its resources encoded once across
// responses. A response it cannot rebuild exactly is returned as it is.
func (e *encodedResponses) shareDelta(resp cachev3.DeltaResponse) cachev3.DeltaResponse {
	raw, ok := resp.(*cachev3.RawDeltaResponse)
	if !ok {
		return resp
	}
	removed, ok := removedResources(raw)
	if !ok {
		return resp
	}
	typeURL := raw.GetDeltaRequest().GetTypeUrl()
	raws := raw.GetRawResources()
	resources := make([]*discovery.Resource, 0, len(raws))
	for _, r := range raws {
		if r.TTL != nil {
			return resp
		}
		enc, err := e.resource(r.Resource, typeURL)
		if err != nil {
			return resp
		}
		resources = append(resources, enc)
	}
	return &sharedDeltaResponse{DeltaResponse: resp, out: &discovery.DeltaDiscoveryResponse{
		Resources:         resources,
		RemovedResources:  removed,
		TypeUrl:           typeURL,
		SystemVersionInfo: raw.SystemVersionInfo,
	}}
}

// resource returns res encoded as a delta response carries it, with the
// version go-control-plane gives it (the hash of its encoding).
func (e *encodedResponses) resource(res types.Resource, typeURL string) (*discovery.Resource, error) {
	e.mu.Lock()
	enc := e.curRes[res]
	if enc == nil {
		if enc = e.prevRes[res]; enc == nil {
			enc = &encodedResource{}
		}
		e.curRes[res] = enc
	}
	e.mu.Unlock()
	enc.once.Do(func() {
		b, err := cachev3.MarshalResource(res)
		if err != nil {
			enc.err = err
			return
		}
		enc.res = &discovery.Resource{
			Name:     cachev3.GetResourceName(res),
			Resource: &anypb.Any{TypeUrl: typeURL, Value: b},
			Version:  cachev3.HashResource(b),
		}
	})
	return enc.res, enc.err
}

// removedResources reads the names a raw delta response removes, which
// go-control-plane keeps unexported and only hands out inside the response
// it encodes in full. ok is false when the field is not there as
// expected (another version of the library): the caller then sends the
// raw response, encoded the library's way.
func removedResources(raw *cachev3.RawDeltaResponse) ([]string, bool) {
	f := reflect.ValueOf(raw).Elem().FieldByName("removedResources")
	if !f.IsValid() || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.String {
		return nil, false
	}
	if f.Len() == 0 {
		return nil, true
	}
	out := make([]string, f.Len())
	for i := range out {
		out[i] = f.Index(i).String()
	}
	return out, true
}

// sharedDeltaResponse is a raw delta response rebuilt over resources
// encoded once; everything else is the raw response's.
type sharedDeltaResponse struct {
	cachev3.DeltaResponse
	out *discovery.DeltaDiscoveryResponse
}

// GetDeltaDiscoveryResponse returns the rebuilt response, the server's to
// set its nonce on; its resources are shared and nobody modifies them.
func (r *sharedDeltaResponse) GetDeltaDiscoveryResponse() (*discovery.DeltaDiscoveryResponse, error) {
	return r.out, nil
}

// contentKey identifies a response's content: its type, version and the
// names of the resources it returns. A version is a hash of the type's
// content in the snapshot, but two snapshots may hold the same version
// for different names (authorization bundles are versioned by revision),
// so the names are part of the key.
func contentKey(raw *cachev3.RawResponse) string {
	names := slices.Sorted(maps.Keys(raw.GetReturnedResources()))
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
