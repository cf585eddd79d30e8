package engine

import (
	"context"

	"github.com/open-policy-agent/opa/v1/topdown/cache"
)

// JWTCacheSize bounds how many verified tokens one revision remembers.
// OPA's io.jwt.decode_verify checks a token's signature (an HMAC or a
// public-key operation, most of a JWT policy's cost) again on every
// request, though callers send the same token for its whole lifetime.
// With this cache it verifies each token and key once and keeps the
// decoded header and payload; the claims (iss, aud, exp, nbf) are still
// checked on every call, against that call's time, so an expired token
// is refused as before. One thing OPA skips on a hit: the "alg"
// constraint, checked before a signature is verified, is not part of the
// key, so a policy that verifies one token with one key at two call sites
// that differ only in "alg" gets the first site's answer at the second.
const JWTCacheSize = 10000

// jwtCacheName is OPA's name of its verified-token cache (topdown's
// tokenCacheName); it is off unless configured.
const jwtCacheName = "io_jwt"

// newBuiltinCache is OPA's inter-query cache of builtin results, one per
// revision, so nothing a revision cached outlives it: compiled regular
// expressions and globs, parsed keys (on by default, as in OPA's own
// server) and verified tokens, each bounded.
func newBuiltinCache() cache.InterQueryValueCache {
	n := JWTCacheSize
	return cache.NewInterQueryValueCache(context.Background(), &cache.Config{
		InterQueryBuiltinValueCache: cache.InterQueryBuiltinValueCacheConfig{
			NamedCacheConfigs: map[string]*cache.NamedValueCacheConfig{jwtCacheName: {MaxNumEntries: &n}},
		},
	})
}
