package extauthz

import (
	"slices"
	"sync"
	"sync/atomic"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
)

// DefaultCacheSize is how many decisions per policy revision the agent
// caches unless told otherwise: at a few hundred bytes each, about 4 MiB
// per policy at most.
const DefaultCacheSize = 10000

// CacheStats count what the decision cache did since the server started.
type CacheStats struct {
	// Hits are decisions answered from the cache.
	Hits uint64 `json:"hits"`
	// Misses are decisions a cacheable policy evaluated and then cached.
	Misses uint64 `json:"misses"`
	// Uncacheable are decisions of a policy that may not be cached (see
	// Cacheable), or made while no cache was ready for the revision.
	Uncacheable uint64 `json:"uncacheable"`
	// Entries is how many decisions the current revision has cached.
	Entries int `json:"entries"`
	// Ready is set once the current revision has been analysed; until
	// then its Checks go uncached, and the fields below are empty.
	Ready bool `json:"ready"`
	// Cacheable says whether the current revision's decisions are cached,
	// and Fields on which input fields they are keyed; Reason says why
	// not.
	Cacheable bool     `json:"cacheable"`
	Fields    []string `json:"fields,omitempty"`
	Reason    string   `json:"reason,omitempty"`
}

// decisionCache keeps one revision's decisions, keyed by the values of
// the input fields that revision reads (compile.InputDeps). A new
// revision starts an empty cache, so no decision outlives the policy
// that made it. A nil *decisionCache caches nothing.
type decisionCache struct {
	size int

	cur      atomic.Pointer[revisionCache]
	building sync.Mutex // one revision's analysis at a time

	hits, misses, uncacheable atomic.Uint64
}

// revisionCache is the cache of one bundle; lru is nil when the bundle is
// not cacheable.
type revisionCache struct {
	bundle *compile.Bundle
	deps   *compile.InputDeps
	lru    *lru
	fast   *fastKey // nil when the key needs the whole input
}

func newDecisionCache(size int) *decisionCache {
	if size <= 0 {
		return nil
	}
	return &decisionCache{size: size}
}

// decide answers from the cache of bundle b when it can, and otherwise
// calls eval and caches its answer if b made it without error.
func (c *decisionCache) decide(b *compile.Bundle, input any, eval func() (engine.Decision, error)) (engine.Decision, error) {
	if c == nil {
		return eval()
	}
	rc := c.forBundle(b)
	if rc == nil || rc.lru == nil {
		c.uncacheable.Add(1)
		return eval()
	}
	key, ok := rc.deps.Key(input)
	if !ok {
		c.uncacheable.Add(1)
		return eval()
	}
	if v, hit := rc.lru.get(key); hit {
		c.hits.Add(1)
		return cloneDecision(v.d), nil
	}
	c.misses.Add(1)
	d, err := eval()
	// The engine may have swapped revisions since b was read: only b's
	// own answers go into b's cache.
	if err == nil && !d.Failed && d.Revision == b.Revision() && d.Policy == b.Name() {
		rc.lru.put(key, &cached{d: cloneDecision(d), wire: newWireAnswer(d)})
	}
	return d, err
}

// hit answers req from b's cache by the fast key, before its input is
// built; on a miss, or when req needs its input for a key, ok is false
// and req takes decide's path, which counts it.
func (c *decisionCache) hit(b *compile.Bundle, req *authv3.CheckRequest) (d engine.Decision, ok bool) {
	if c == nil {
		return d, false
	}
	rc := c.forBundle(b)
	if rc == nil || rc.fast == nil {
		return d, false
	}
	key, ok := rc.fast.key(req)
	if !ok {
		return d, false
	}
	v, ok := rc.lru.get(key)
	if !ok {
		return d, false
	}
	c.hits.Add(1)
	return cloneDecision(v.d), true
}

// hitWire is hit for a request still in its wire bytes: it answers with
// the cached decision and its encoded response, neither of which the
// caller may change. On a miss, or when the bytes are not a request the
// cache reads (readWire) or one whose path is refused, ok is false and
// the request takes the full path, which counts it.
func (c *decisionCache) hitWire(b *compile.Bundle, raw []byte) (v *cached, ok bool) {
	if c == nil {
		return nil, false
	}
	rc := c.forBundle(b)
	if rc == nil || rc.fast == nil {
		return nil, false
	}
	w, ok := readWire(raw)
	if !ok || checkPaths(w.httpField(httpPath), w.header) != nil {
		return nil, false
	}
	key, ok := rc.fast.keyWire(w)
	if !ok {
		return nil, false
	}
	if v, ok = rc.lru.get(key); !ok || v.wire == nil {
		return nil, false
	}
	c.hits.Add(1)
	return v, true
}

// forBundle returns b's cache, or nil while b is being analysed: the
// first Check of a new revision starts its analysis (which compiles the
// modules again) in the background, and until it is done Checks go
// uncached, so the Check path never waits for it.
func (c *decisionCache) forBundle(b *compile.Bundle) *revisionCache {
	if b == nil {
		return nil
	}
	if rc := c.cur.Load(); rc != nil && rc.bundle == b {
		return rc
	}
	if c.building.TryLock() {
		go c.analyse(b)
	}
	return nil
}

// analyse makes b's cache the current one; it holds c.building, so one
// revision is analysed at a time.
func (c *decisionCache) analyse(b *compile.Bundle) {
	defer c.building.Unlock()
	if rc := c.cur.Load(); rc != nil && rc.bundle == b {
		return
	}
	c.cur.Store(c.newRevisionCache(b))
}

// newRevisionCache analyses b: which input fields key its decisions, or
// why they may not be cached.
func (c *decisionCache) newRevisionCache(b *compile.Bundle) *revisionCache {
	rc := &revisionCache{bundle: b, deps: b.InputDeps()}
	if rc.deps.Cacheable {
		rc.lru, rc.fast = newLRU(c.size), newFastKey(b, rc.deps)
	}
	return rc
}

func (c *decisionCache) stats(b *compile.Bundle) *CacheStats {
	if c == nil {
		return nil
	}
	st := &CacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Uncacheable: c.uncacheable.Load()}
	rc := c.cur.Load()
	if rc == nil || rc.bundle != b {
		return st
	}
	st.Ready, st.Cacheable, st.Fields, st.Reason = true, rc.deps.Cacheable, rc.deps.Fields, rc.deps.Reason
	if rc.lru != nil {
		st.Entries = rc.lru.len()
	}
	return st
}

// CacheStats reports the decision cache's counts and what it keys the
// current revision's decisions on; nil when the cache is off.
func (s *Server) CacheStats() *CacheStats { return s.cache.stats(s.engine.Bundle()) }

// cloneDecision copies the lists a caller may append to, so a cached
// decision never changes after it was stored.
func cloneDecision(d engine.Decision) engine.Decision {
	d.Headers = slices.Clone(d.Headers)
	d.ResponseHeadersToAdd = slices.Clone(d.ResponseHeadersToAdd)
	d.RequestHeadersToRemove = slices.Clone(d.RequestHeadersToRemove)
	d.QueryParametersToRemove = slices.Clone(d.QueryParametersToRemove)
	d.QueryParametersToSet = slices.Clone(d.QueryParametersToSet)
	return d
}
