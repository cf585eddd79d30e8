package controlplane

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
	"embassy.dev/embassy/pkg/jwks"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/jwt/jwttest"
)

// jwksServer serves whatever body and status the test sets, on 127.0.0.1.
// It counts its requests, in all and by the replicaHeader they carry.
type jwksServer struct {
	*httptest.Server
	mu     sync.Mutex
	body   string
	status int
	by     map[string]int
	hits   atomic.Int32
}

// replicaHeader is what a test's replica sends with its fetches (see
// replicaClient), so the provider can tell who fetched.
const replicaHeader = "X-Test-Replica"

func newJWKSServer(t *testing.T, body string) *jwksServer {
	s := &jwksServer{body: body, status: http.StatusOK, by: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		s.by[r.Header.Get(replicaHeader)]++
		body, status := s.body, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

// fetchesBy is how many requests carried replicaHeader name.
func (s *jwksServer) fetchesBy(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.by[name]
}

// replicaClient fetches like the control plane's default client, naming
// the replica in replicaHeader.
func replicaClient(name string) *http.Client {
	return &http.Client{Timeout: jwksFetchTimeout, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set(replicaHeader, name)
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (s *jwksServer) serve(status int, body string) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

// urlPolicy reads the users provider's claims; its keys are at url.
func urlPolicy(url string) *mesh.AuthorizationPolicy {
	return &mesh.AuthorizationPolicy{Namespace: "shop", Name: "users", Spec: &resource.AuthorizationPolicySpec{
		Targets: resource.Targets{Services: []string{"web"}},
		Modules: []resource.RegoModule{{Name: "authz.rego", Rego: `package envoy.authz

default allow := false

allow if input.attributes.metadataContext.filterMetadata["envoy.filters.http.jwt_authn"].users.sub == "alice"
`}},
		JWTProviders: []resource.JWTProvider{{Name: "users", Issuer: "https://id.example.com", JWKSURL: url}},
	}}
}

// verifies reports whether the compiled bundle's verifier accepts tok.
func verifies(t *testing.T, c *mesh.AuthzCompiled, tok string) bool {
	t.Helper()
	if c.Err != "" {
		t.Fatalf("policy did not compile: %s", c.Err)
	}
	var b compile.Bundle
	if err := json.Unmarshal(c.Bundle, &b); err != nil {
		t.Fatal(err)
	}
	return verifiesBundle(&b, tok)
}

func TestJWKSFetchedIntoTheBundle(t *testing.T) {
	k1, k2 := jwttest.NewKey(t, jose.ES256, "k1"), jwttest.NewKey(t, jose.RS256, "k2")
	claims := map[string]any{"iss": "https://id.example.com", "sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
	tok1, tok2 := k1.Sign(t, claims), k2.Sign(t, claims)
	srv := newJWKSServer(t, jwttest.JWKS(t, k1))
	var changes atomic.Int32
	cache := newAuthzCache(testSandbox(t))
	cache.jwks = NewJWKSFetcher(JWKSOptions{OnChange: func() { changes.Add(1) }})
	p := urlPolicy(srv.URL + "/.well-known/jwks.json")
	ctx := context.Background()

	// Before the first fetch the provider has no keys: tokens are refused.
	c0 := cache.compile(p)
	if verifies(t, c0, tok1) || len(c0.JWTProviders) != 1 || c0.JWTProviders[0].JWKS != "" {
		t.Fatalf("unfetched keys: providers %+v", c0.JWTProviders)
	}
	if !cache.jwks.Refresh(ctx) || changes.Load() != 1 {
		t.Fatalf("the first fetch is a change (changes %d)", changes.Load())
	}
	c1 := cache.compile(p)
	if c1.Revision == c0.Revision || !verifies(t, c1, tok1) || verifies(t, c1, tok2) {
		t.Fatalf("fetched keys: revision %s after %s", c1.Revision, c0.Revision)
	}
	if !strings.Contains(c1.JWTProviders[0].JWKS, `"kid":"k1"`) {
		t.Fatalf("the model does not carry the fetched keys for Envoy: %q", c1.JWTProviders[0].JWKS)
	}
	// Claims live in metadata, which RBAC cannot read: ext_authz decides.
	if c1.Compiled || c1.Reason == "" {
		t.Fatalf("a policy reading JWT claims compiled to RBAC (reason %q)", c1.Reason)
	}

	// Failing fetches keep the last good keys and change nothing.
	for _, bad := range []struct {
		status int
		body   string
	}{{http.StatusInternalServerError, "down"}, {http.StatusOK, `{"keys":[]}`}, {http.StatusOK, "not json"}} {
		srv.serve(bad.status, bad.body)
		if cache.jwks.Refresh(ctx) {
			t.Fatalf("a failed fetch (%d %q) changed the keys", bad.status, bad.body)
		}
		if c := cache.compile(p); c.Revision != c1.Revision || !verifies(t, c, tok1) {
			t.Fatalf("after a failed fetch (%d %q) the last good keys are gone", bad.status, bad.body)
		}
	}

	// Rotation: the new key is published beside the old, then the old
	// one is retired.
	srv.serve(http.StatusOK, jwttest.JWKS(t, k1, k2))
	if !cache.jwks.Refresh(ctx) {
		t.Fatal("publishing a new key is not a change")
	}
	c2 := cache.compile(p)
	if c2.Revision == c1.Revision || !verifies(t, c2, tok1) || !verifies(t, c2, tok2) {
		t.Fatalf("during the rotation both keys must verify (revision %s)", c2.Revision)
	}
	srv.serve(http.StatusOK, jwttest.JWKS(t, k2))
	cache.jwks.Refresh(ctx)
	c3 := cache.compile(p)
	if c3.Revision == c2.Revision || verifies(t, c3, tok1) || !verifies(t, c3, tok2) {
		t.Fatal("after retiring the old key its tokens must be refused and the new key's pass")
	}
	if changes.Load() != 3 {
		t.Fatalf("OnChange called %d times, want 3", changes.Load())
	}

	// A URL no policy names any more is not fetched again.
	cache.jwks.Retain(map[string]bool{})
	before := srv.hits.Load()
	cache.jwks.Refresh(ctx)
	if srv.hits.Load() != before {
		t.Fatal("a forgotten URL was fetched")
	}
}

// TestJWKSFetcherRuns: a new URL is fetched at once and then on every
// refresh, and each change is reported.
func TestJWKSFetcherRuns(t *testing.T) {
	k1, k2 := jwttest.NewKey(t, jose.ES256, "k1"), jwttest.NewKey(t, jose.ES256, "k2")
	srv := newJWKSServer(t, jwttest.JWKS(t, k1))
	changed := make(chan struct{}, 8)
	f := NewJWKSFetcher(JWKSOptions{Refresh: 20 * time.Millisecond, OnChange: func() { changed <- struct{}{} }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	if _, ok := f.Keys(srv.URL); ok {
		t.Fatal("keys before any fetch")
	}
	waitChange := func(want string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(5 * time.Second):
			t.Fatalf("no change reported while waiting for %s", want)
		}
		if doc, ok := f.Keys(srv.URL); !ok || !strings.Contains(doc, want) {
			t.Fatalf("keys %q, want %s", doc, want)
		}
	}
	waitChange(`"kid":"k1"`)
	srv.serve(http.StatusOK, jwttest.JWKS(t, k2))
	waitChange(`"kid":"k2"`)
}

// TestJWKSFollowerReadsWhatTheLeaderStored: two fetchers on one store,
// one leading: only the leader fetches, and the follower compiles the
// very set the leader stored, a new URL included, once it is stored.
func TestJWKSFollowerReadsWhatTheLeaderStored(t *testing.T) {
	k1, k2 := jwttest.NewKey(t, jose.ES256, "k1"), jwttest.NewKey(t, jose.ES256, "k2")
	srv := newJWKSServer(t, jwttest.JWKS(t, k1))
	shared := store.NewMemory()
	leader := NewJWKSFetcher(JWKSOptions{Secrets: shared})
	follower := NewJWKSFetcher(JWKSOptions{Secrets: shared, Leads: func() bool { return false }})
	ctx := context.Background()

	// A URL the store does not hold: the follower waits, as before a
	// first fetch, and never fetches it itself.
	follower.Keys(srv.URL)
	if follower.Refresh(ctx) || srv.hits.Load() != 0 {
		t.Fatalf("the follower changed or fetched (hits %d)", srv.hits.Load())
	}
	if _, ok := follower.Keys(srv.URL); ok {
		t.Fatal("the follower has keys the store does not hold")
	}
	leader.Keys(srv.URL)
	if !leader.Refresh(ctx) || !follower.Refresh(ctx) {
		t.Fatal("the leader's fetch did not reach the follower")
	}
	same := func(want string) {
		t.Helper()
		l, _ := leader.Keys(srv.URL)
		f, _ := follower.Keys(srv.URL)
		if l != f || !strings.Contains(f, want) {
			t.Fatalf("leader %q, follower %q; want both with %s", l, f, want)
		}
	}
	same(`"kid":"k1"`)

	// A rotation at the provider: fetched once, by the leader.
	srv.serve(http.StatusOK, jwttest.JWKS(t, k2))
	for range 3 {
		follower.Refresh(ctx)
	}
	same(`"kid":"k1"`)
	leader.Refresh(ctx)
	follower.Refresh(ctx)
	same(`"kid":"k2"`)
	if got := srv.hits.Load(); got != 2 {
		t.Fatalf("the provider was fetched %d times, want 2 (the leader's)", got)
	}

	// The leader's failed fetch is stored with its error, the last good
	// set kept for everyone.
	srv.serve(http.StatusServiceUnavailable, "down")
	if leader.Refresh(ctx) || follower.Refresh(ctx) {
		t.Fatal("a failed fetch changed the keys")
	}
	same(`"kid":"k2"`)
	raw, err := shared.GetSecret(jwksSecretPrefix + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := jwks.ParseFetched(raw, srv.URL); err != nil || !strings.Contains(got.Error, "503") || got.FetchedAt.IsZero() || got.FetchedAt.After(got.CheckedAt) {
		t.Fatalf("stored after a failed fetch: %+v, %v", got, err)
	}
}

// TestJWKSRefusesACorruptedStoredSet: a stored value that does not decode
// is logged once, naming the URL, and the last good set stays; the
// leader replaces it at once with a new fetch.
func TestJWKSRefusesACorruptedStoredSet(t *testing.T) {
	srv := newJWKSServer(t, jwttest.JWKS(t, jwttest.NewKey(t, jose.ES256, "k1")))
	shared := store.NewMemory()
	logs := &syncbuf.Buffer{}
	var leads atomic.Bool
	f := NewJWKSFetcher(JWKSOptions{Secrets: shared, Leads: leads.Load,
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Trace, Output: logs})})
	ctx := context.Background()
	leads.Store(true)
	f.Keys(srv.URL)
	f.Refresh(ctx)
	good, ok := f.Keys(srv.URL)
	if !ok {
		t.Fatal("no keys after the first fetch")
	}

	leads.Store(false)
	for _, bad := range []string{
		"garbage",
		`{"version":1,"url":"https://other.example/jwks","checkedAt":"2026-12-07T21:00:00Z","jwks":` + good + `}`,
		`{"version":1,"url":"` + srv.URL + `","checkedAt":"2026-12-07T21:00:00Z","jwks":{"keys":[]}}`,
	} {
		if err := shared.PutSecret(jwksSecretPrefix+srv.URL, []byte(bad)); err != nil {
			t.Fatal(err)
		}
		before := strings.Count(logs.String(), "the stored key set is refused")
		for range 3 {
			if f.Refresh(ctx) {
				t.Fatalf("a corrupted stored set %q changed the keys", bad)
			}
		}
		if doc, _ := f.Keys(srv.URL); doc != good {
			t.Fatalf("after a corrupted stored set %q the keys are %q, want the last good ones", bad, doc)
		}
		if got := strings.Count(logs.String(), "the stored key set is refused"); got != before+1 {
			t.Fatalf("a corrupted stored set was logged %d times, want once:\n%s", got-before, logs)
		}
		if !strings.Contains(logs.String(), "url="+srv.URL) {
			t.Fatalf("the refusal does not name the URL:\n%s", logs)
		}
	}
	if srv.hits.Load() != 1 {
		t.Fatalf("a follower fetched (hits %d)", srv.hits.Load())
	}

	// The leader replaces a refused value at once, not a Refresh later.
	leads.Store(true)
	f.cycle(ctx, fetchDue)
	raw, err := shared.GetSecret(jwksSecretPrefix + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := jwks.ParseFetched(raw, srv.URL); err != nil || got.JWKS != good {
		t.Fatalf("the leader did not replace the corrupted set: %+v, %v", got, err)
	}
	if srv.hits.Load() != 2 {
		t.Fatalf("hits %d, want 2", srv.hits.Load())
	}
}

// TestJWKSStaleStoredSetWaitsForTheLeader: a set no leader has checked
// for longer than a living leader lets pass (stored for a policy deleted
// since) is not compiled until the leader checks it again, so a key the
// provider retired meanwhile is never accepted.
func TestJWKSStaleStoredSetWaitsForTheLeader(t *testing.T) {
	old, cur := jwttest.NewKey(t, jose.ES256, "old"), jwttest.NewKey(t, jose.ES256, "cur")
	srv := newJWKSServer(t, jwttest.JWKS(t, cur))
	shared := store.NewMemory()
	long := time.Now().Add(-time.Hour)
	raw, err := jwks.Fetched{URL: srv.URL, JWKS: jwttest.JWKS(t, old), FetchedAt: long, CheckedAt: long}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.PutSecret(jwksSecretPrefix+srv.URL, raw); err != nil {
		t.Fatal(err)
	}
	follower := NewJWKSFetcher(JWKSOptions{Secrets: shared, Leads: func() bool { return false }})
	ctx := context.Background()
	follower.Keys(srv.URL)
	if follower.Refresh(ctx) {
		t.Fatal("the follower compiled a set no leader checked for an hour")
	}
	if doc, ok := follower.Keys(srv.URL); ok {
		t.Fatalf("stale keys served: %s", doc)
	}
	leader := NewJWKSFetcher(JWKSOptions{Secrets: shared})
	leader.Keys(srv.URL)
	leader.cycle(ctx, fetchDue)
	if !follower.Refresh(ctx) {
		t.Fatal("the leader's check did not reach the follower")
	}
	if doc, _ := follower.Keys(srv.URL); !strings.Contains(doc, `"kid":"cur"`) || strings.Contains(doc, `"kid":"old"`) {
		t.Fatalf("after the leader's check the follower compiles %s, want the current key only", doc)
	}
}

// TestJWKSKeptAcrossARestartOnBbolt: alone on bbolt the control plane
// leads, fetches and stores the key set; restarted on the same data dir
// while the provider is down, it compiles the stored keys at once
// instead of refusing tokens until the provider is back.
func TestJWKSKeptAcrossARestartOnBbolt(t *testing.T) {
	k1 := jwttest.NewKey(t, jose.ES256, "k1")
	srv := newJWKSServer(t, jwttest.JWKS(t, k1))
	dir := t.TempDir()
	cp := startCP(t, dir, &syncbuf.Buffer{})
	applyYAML(t, cp, jwksPolicy(srv.URL))
	poll.Until(t, "the key set to be compiled", func() bool {
		keys, _ := compiledKeys(cp)
		return strings.Contains(keys, `"kid":"k1"`)
	})
	want, _ := compiledKeys(cp)
	cp.Close()

	srv.serve(http.StatusServiceUnavailable, "down")
	cp = startCP(t, dir, &syncbuf.Buffer{})
	defer cp.Close()
	// Already in the first snapshot it serves.
	if keys, _ := compiledKeys(cp); keys != want {
		t.Fatalf("restarted with the provider down, the control plane compiles %q, want the stored %q", keys, want)
	}
	raw, err := cp.Store().(store.Secrets).GetSecret(jwksSecretPrefix + srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := jwks.ParseFetched(raw, srv.URL); err != nil || got.JWKS != want {
		t.Fatalf("stored on bbolt: %+v, %v", got, err)
	}
}
