package cache

import (
	"sync"
	"weak"

	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/types/known/anypb"
)

// Encoded is the wire form of an answer without its nonce, made once for
// every stream the answer goes to. Its bytes are shared: nobody may
// change them.
type Encoded struct{ Bytes []byte }

// encodingMemo keeps an answer's Encoded for as long as a stream holds
// it, and no longer. Streams of one shape are answered within moments of
// each other, so they share one encoding; an answer only one proxy gets
// (a shape of its own) keeps nothing once sent, so memory follows what
// is being sent, not what was.
type encodingMemo struct {
	mu sync.Mutex
	w  weak.Pointer[Encoded]
}

// get returns the encoding, made by encode if nobody holds one. Streams
// asking at once wait for one encoding rather than make several.
func (m *encodingMemo) get(encode func() ([]byte, error)) (*Encoded, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.w.Value(); e != nil {
		return e, nil
	}
	b, err := encode()
	if err != nil {
		return nil, err
	}
	e := &Encoded{Bytes: b}
	m.w = weak.Make(e)
	return e, nil
}

// sotwAnswer is the resources a state-of-the-world answer carries, shared
// by every stream due the same answer from one typeView (same names, same
// version held), with their encoding.
type sotwAnswer struct {
	resources []*anypb.Any
	enc       encodingMemo
}

// Encoded returns the response's encoding without a nonce, made by encode
// from the response (GetDiscoveryResponse, nonce unset) once for every
// stream the same answer goes to while one of them holds it.
func (r *SotwResponse) Encoded(encode func(*discovery.DiscoveryResponse) ([]byte, error)) (*Encoded, error) {
	return r.answer.enc.get(func() ([]byte, error) {
		out, err := r.GetDiscoveryResponse()
		if err != nil {
			return nil, err
		}
		return encode(out)
	})
}
