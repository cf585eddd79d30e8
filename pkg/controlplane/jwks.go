package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"embassy.dev/embassy/pkg/jwks"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
)

// Defaults of the JWKS fetcher.
const (
	DefaultJWKSRefresh = 5 * time.Minute
	jwksFetchTimeout   = 10 * time.Second
	jwksMaxBytes       = 1 << 20
)

// JWKSFetcher fetches the key sets that AuthorizationPolicies name by URL,
// so that proxies and agents never fetch keys: the keys are resolved into
// the compiled policy, and a change of keys is a new bundle revision and a
// push. It refreshes every set periodically; a failed fetch keeps the last
// good set (and is logged), so an identity provider's outage does not turn
// into refused tokens. It is safe for concurrent use.
type JWKSFetcher struct {
	client   *http.Client
	refresh  time.Duration
	log      hclog.Logger
	onChange func()
	kick     chan struct{}

	mu   sync.Mutex
	sets map[string]*jwksSet
}

// jwksSet is one URL's last good key set and how its last fetch went.
type jwksSet struct {
	doc     string // compact JSON; "" until a fetch succeeded
	lastErr error
}

// JWKSOptions configure a JWKSFetcher.
type JWKSOptions struct {
	// Refresh is how often every set is fetched again (default 5m).
	Refresh time.Duration
	// Client fetches; nil is a client with a 10s timeout.
	Client *http.Client
	Logger hclog.Logger
	// OnChange is called, from the fetching goroutine, after a fetch
	// changed a set.
	OnChange func()
}

// NewJWKSFetcher returns a fetcher; Run fetches in the background, and
// Refresh fetches at once.
func NewJWKSFetcher(o JWKSOptions) *JWKSFetcher {
	f := &JWKSFetcher{client: o.Client, refresh: o.Refresh, log: o.Logger, onChange: o.OnChange,
		kick: make(chan struct{}, 1), sets: map[string]*jwksSet{}}
	if f.client == nil {
		f.client = &http.Client{Timeout: jwksFetchTimeout}
	}
	if f.refresh <= 0 {
		f.refresh = DefaultJWKSRefresh
	}
	if f.log == nil {
		f.log = hclog.NewNullLogger()
	}
	return f
}

// Keys returns the last good key set of url, or false before one was
// fetched. Asking for a URL not seen before registers it and wakes Run to
// fetch it now.
func (f *JWKSFetcher) Keys(url string) (string, bool) {
	f.mu.Lock()
	s, ok := f.sets[url]
	if !ok {
		f.sets[url] = &jwksSet{}
	}
	f.mu.Unlock()
	if !ok {
		select {
		case f.kick <- struct{}{}:
		default:
		}
		return "", false
	}
	return s.doc, s.doc != ""
}

// Retain forgets the URLs not in keep, so a deleted policy's key set is
// no longer fetched.
func (f *JWKSFetcher) Retain(keep map[string]bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for url := range f.sets {
		if !keep[url] {
			delete(f.sets, url)
		}
	}
}

// Refresh fetches every registered URL once and reports whether a set
// changed; OnChange is called when one did.
func (f *JWKSFetcher) Refresh(ctx context.Context) bool {
	f.mu.Lock()
	urls := make([]string, 0, len(f.sets))
	for url := range f.sets {
		urls = append(urls, url)
	}
	f.mu.Unlock()
	sort.Strings(urls)
	changed := false
	for _, url := range urls {
		doc, err := f.fetch(ctx, url)
		f.mu.Lock()
		s, ok := f.sets[url]
		if ok {
			if err != nil {
				s.lastErr = err
			} else {
				s.lastErr = nil
				if doc != s.doc {
					s.doc, changed = doc, true
				}
			}
		}
		keep := ok && s.doc != ""
		f.mu.Unlock()
		switch {
		case err != nil && keep:
			f.log.Warn("fetching a JWKS failed; keeping the last good key set", "url", url, "error", err)
		case err != nil:
			f.log.Error("fetching a JWKS failed; tokens of its providers are refused until it succeeds", "url", url, "error", err)
		}
	}
	if changed && f.onChange != nil {
		f.onChange()
	}
	return changed
}

// Run refreshes every Refresh interval, and at once when a new URL is
// registered, until ctx ends.
func (f *JWKSFetcher) Run(ctx context.Context) {
	t := time.NewTicker(f.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.kick:
		}
		f.Refresh(ctx)
	}
}

// fetch reads one key set; it must parse with at least one usable key.
func (f *JWKSFetcher) fetch(ctx context.Context, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return "", err
	}
	if len(body) > jwksMaxBytes {
		return "", fmt.Errorf("GET %s: key set larger than %d bytes", url, jwksMaxBytes)
	}
	if _, err := jwks.Parse(body); err != nil {
		return "", err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, body); err != nil {
		return "", err
	}
	return compact.String(), nil
}

// resolve returns p with the fetched key set of every provider that names
// a URL filled in (its spec copied, never modified), so the compiled
// bundle and the Envoy configuration carry the keys themselves. A URL not
// fetched yet is left empty: its tokens are refused until it is.
func (f *JWKSFetcher) resolve(p *mesh.AuthorizationPolicy) *mesh.AuthorizationPolicy {
	if f == nil || p.Spec == nil || len(p.Spec.JWTProviders) == 0 {
		return p
	}
	spec := *p.Spec
	spec.JWTProviders = append([]resource.JWTProvider(nil), p.Spec.JWTProviders...)
	for i, jp := range spec.JWTProviders {
		if jp.JWKSURL == "" {
			continue
		}
		if doc, ok := f.Keys(jp.JWKSURL); ok {
			spec.JWTProviders[i].JWKS = json.RawMessage(doc)
		}
	}
	out := *p
	out.Spec = &spec
	return &out
}

// jwksURLs lists the key set URLs a snapshot's policies name.
func jwksURLs(s *mesh.Snapshot) map[string]bool {
	out := map[string]bool{}
	for _, p := range s.AuthorizationPolicies {
		if p.Spec == nil {
			continue
		}
		for _, jp := range p.Spec.JWTProviders {
			if jp.JWKSURL != "" {
				out[jp.JWKSURL] = true
			}
		}
	}
	return out
}
