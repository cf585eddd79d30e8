package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	"embassy.dev/embassy/pkg/store"
)

// Defaults of the JWKS fetcher.
const (
	DefaultJWKSRefresh = 5 * time.Minute
	jwksFetchTimeout   = 10 * time.Second
	jwksMaxBytes       = 1 << 20
	// jwksSync is how often every replica rereads the stored key sets,
	// so a set the leader fetched reaches its proxies within it.
	jwksSync = time.Second
)

// jwksSecretPrefix names, among the store's secrets, the fetched key set
// of each URL: "jwks/" and the URL. Key sets are public keys; they sit
// with the secrets because those are the store's values outside the
// resource revision that every replica can compare and swap.
const jwksSecretPrefix = "jwks/"

// JWKSFetcher fetches the key sets that AuthorizationPolicies name by URL,
// so that proxies and agents never fetch keys: the keys are resolved into
// the compiled policy, and a change of keys is a new bundle revision and a
// push. Only the leader fetches (once per Refresh interval per URL, and at
// once for a URL the store does not hold yet) and stores what it fetched
// in the store's secrets; every replica, the leader included, compiles
// from the stored sets, which it rereads every second, so replicas on one
// store put the same keys in the same policy and an identity provider
// sees one fetch per interval, not one per replica. A failed fetch keeps
// the last good set (and is logged), so an identity provider's outage
// does not turn into refused tokens. It is safe for concurrent use.
type JWKSFetcher struct {
	client   *http.Client
	refresh  time.Duration
	sync     time.Duration
	secrets  store.Secrets
	leads    func() bool
	log      hclog.Logger
	onChange func()
	kick     chan struct{}

	// cycleMu keeps two cycles (Run's and a caller's Refresh) from
	// fetching the same URL at once.
	cycleMu sync.Mutex
	mu      sync.Mutex
	sets    map[string]*jwksSet
}

// jwksSet is one URL's last good key set as this replica read it from
// the store.
type jwksSet struct {
	doc       string // compact JSON; "" until a stored set was read
	fetchedAt time.Time
	// refused is the last stored value refused, so it is logged once.
	refused []byte
}

// JWKSOptions configure a JWKSFetcher.
type JWKSOptions struct {
	// Refresh is how often every set is fetched again (default 5m).
	Refresh time.Duration
	// Client fetches; nil is a client with a 10s timeout.
	Client *http.Client
	// Secrets is where fetched sets are stored and read; nil is a memory
	// store of the fetcher's own.
	Secrets store.Secrets
	// Leads reports whether this replica fetches; nil is always.
	Leads  func() bool
	Logger hclog.Logger
	// OnChange is called, from the fetching goroutine, after a key set
	// read from the store changed.
	OnChange func()
}

// NewJWKSFetcher returns a fetcher; Run fetches and rereads in the
// background, and Refresh at once.
func NewJWKSFetcher(o JWKSOptions) *JWKSFetcher {
	f := &JWKSFetcher{client: o.Client, refresh: o.Refresh, secrets: o.Secrets, leads: o.Leads, log: o.Logger,
		onChange: o.OnChange, kick: make(chan struct{}, 1), sets: map[string]*jwksSet{}}
	if f.client == nil {
		f.client = &http.Client{Timeout: jwksFetchTimeout}
	}
	if f.refresh <= 0 {
		f.refresh = DefaultJWKSRefresh
	}
	f.sync = min(jwksSync, f.refresh)
	if f.secrets == nil {
		f.secrets = store.NewMemory()
	}
	if f.leads == nil {
		f.leads = func() bool { return true }
	}
	if f.log == nil {
		f.log = hclog.NewNullLogger()
	}
	return f
}

// Keys returns the last good key set of url, or false before one was
// stored. Asking for a URL not seen before registers it and wakes Run to
// read it, and on the leader to fetch it, now.
func (f *JWKSFetcher) Keys(url string) (string, bool) {
	f.mu.Lock()
	s, ok := f.sets[url]
	if !ok {
		f.sets[url] = &jwksSet{}
	}
	doc := ""
	if ok {
		doc = s.doc
	}
	f.mu.Unlock()
	if !ok {
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
	return doc, doc != ""
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

// fetchWhich says which URLs a cycle fetches when this replica leads.
type fetchWhich int

const (
	fetchDue  fetchWhich = iota // those absent, refused or older than Refresh
	fetchAll                    // every one
	fetchNone                   // none: only read the stored sets
)

// Refresh fetches every registered URL once if this replica leads, and
// rereads every stored set; it reports whether a set changed, and calls
// OnChange when one did.
func (f *JWKSFetcher) Refresh(ctx context.Context) bool {
	return f.cycle(ctx, fetchAll)
}

// ReadStored rereads the stored sets of the registered URLs without
// fetching any, and calls OnChange when one changed: a control plane
// starting compiles what the store holds before it serves.
func (f *JWKSFetcher) ReadStored(ctx context.Context) bool {
	return f.cycle(ctx, fetchNone)
}

// Run rereads the stored sets every second (or every Refresh, if
// shorter), fetching those that are due on the leader, and at once when
// a new URL is registered, until ctx ends.
func (f *JWKSFetcher) Run(ctx context.Context) {
	t := time.NewTicker(f.sync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.kick:
		}
		f.cycle(ctx, fetchDue)
	}
}

// cycle brings every registered URL up to date, the leader fetching
// those which says.
func (f *JWKSFetcher) cycle(ctx context.Context, which fetchWhich) bool {
	f.cycleMu.Lock()
	defer f.cycleMu.Unlock()
	f.mu.Lock()
	urls := make([]string, 0, len(f.sets))
	for url := range f.sets {
		urls = append(urls, url)
	}
	f.mu.Unlock()
	sort.Strings(urls)
	changed := false
	for _, url := range urls {
		if f.update(ctx, url, which) {
			changed = true
		}
	}
	if changed && f.onChange != nil {
		f.onChange()
	}
	return changed
}

// update reads url's stored set; the leader fetches and stores it first
// when which says (fetchDue: when it is absent, refused or older than
// Refresh). It reports whether
// the set this replica compiles from changed. A store that does not
// answer leaves the set as last read, on every replica.
func (f *JWKSFetcher) update(ctx context.Context, url string, which fetchWhich) bool {
	raw, err := f.secrets.GetSecret(jwksSecretPrefix + url)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		f.log.Debug("reading a stored key set failed; keeping the one last read", "url", url, "error", err)
		return false
	}
	var stored *jwks.Fetched
	if raw != nil {
		if got, err := jwks.ParseFetched(raw, url); err != nil {
			f.refuse(url, raw, err)
		} else {
			stored = &got
		}
	}
	now := time.Now()
	fetch := which == fetchAll || (which == fetchDue && (stored == nil || f.due(*stored, now)))
	if fetch && f.leads() {
		stored = f.fetchAndStore(ctx, url, raw, stored, now)
	}
	if stored == nil || f.stale(*stored, now) {
		return false
	}
	return f.adopt(url, *stored)
}

// stale reports whether a stored set went unchecked for longer than a
// living leader lets pass: it was stored for a policy deleted since, or
// before the whole fleet stopped. It is compiled only once the leader has
// checked it again, so a key the provider retired meanwhile is never
// accepted.
func (f *JWKSFetcher) stale(s jwks.Fetched, now time.Time) bool {
	return now.Sub(s.CheckedAt) > 2*f.refresh+jwksFetchTimeout+f.sync
}

// due reports whether a stored set is older than Refresh, or was checked
// implausibly far in the future (a clock stepped back).
func (f *JWKSFetcher) due(s jwks.Fetched, now time.Time) bool {
	age := now.Sub(s.CheckedAt)
	return age >= f.refresh || age <= -f.refresh
}

// refuse logs a stored value that does not decode, once per value: the
// replica keeps the last good set, and the leader replaces the value at
// once.
func (f *JWKSFetcher) refuse(url string, raw []byte, err error) {
	f.mu.Lock()
	s, ok := f.sets[url]
	seen := ok && bytes.Equal(s.refused, raw)
	if ok {
		s.refused = raw
	}
	f.mu.Unlock()
	if !seen {
		f.log.Error("the stored key set is refused; keeping the last good one until the leader stores a new fetch",
			"url", url, "secret", jwksSecretPrefix+url, "error", err)
	}
}

// fetchAndStore fetches url and stores the outcome over old (the value
// read, nil when absent), keeping the last good set when the fetch
// failed. It returns what the store now holds as far as it knows: the
// new value, or last when storing failed (the other replicas could not
// see the new one, so this one does not serve it either).
func (f *JWKSFetcher) fetchAndStore(ctx context.Context, url string, old []byte, last *jwks.Fetched, now time.Time) *jwks.Fetched {
	next := jwks.Fetched{URL: url, CheckedAt: now}
	if last != nil {
		next.JWKS, next.FetchedAt = last.JWKS, last.FetchedAt
	} else {
		f.mu.Lock()
		if s, ok := f.sets[url]; ok {
			next.JWKS, next.FetchedAt = s.doc, s.fetchedAt
		}
		f.mu.Unlock()
	}
	doc, err := f.fetch(ctx, url)
	switch {
	case err == nil:
		next.JWKS, next.FetchedAt = doc, now
	case next.JWKS != "":
		next.Error = err.Error()
		f.log.Warn("fetching a JWKS failed; keeping the last good key set", "url", url, "error", err)
	default:
		next.Error = err.Error()
		f.log.Error("fetching a JWKS failed; tokens of its providers are refused until it succeeds", "url", url, "error", err)
	}
	value, err := next.Marshal()
	if err == nil {
		err = f.secrets.SwapSecret(jwksSecretPrefix+url, old, value)
	}
	switch {
	case errors.Is(err, store.ErrSecretChanged):
		// Another replica led meanwhile and stored its own fetch: the
		// next cycle reads it.
		f.log.Debug("another replica stored this key set first", "url", url)
		return last
	case err != nil:
		f.log.Warn("storing a fetched key set failed; every replica keeps the previous one", "url", url, "error", err)
		return last
	}
	// Compile what the others will read, not what was fetched.
	stored, err := jwks.ParseFetched(value, url)
	if err != nil {
		f.refuse(url, value, err)
		return last
	}
	return &stored
}

// adopt makes s the set this replica compiles url with, and reports
// whether its keys changed. A stored set without keys (no fetch has
// succeeded) leaves a set read before in place.
func (f *JWKSFetcher) adopt(url string, s jwks.Fetched) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, ok := f.sets[url]
	if !ok || s.JWKS == "" || s.JWKS == cur.doc {
		return false
	}
	cur.doc, cur.fetchedAt = s.JWKS, s.FetchedAt
	return true
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

// newJWKSFetcher makes the control plane's fetcher: it fetches when this
// replica leads, shares what it fetched through the store's secrets, and
// a changed key set recompiles the policies naming it and pushes them.
func (c *ControlPlane) newJWKSFetcher() *JWKSFetcher {
	sec, _ := c.store.(store.Secrets)
	return NewJWKSFetcher(JWKSOptions{
		Refresh: c.cfg.JWKSRefresh,
		Client:  c.cfg.JWKSClient,
		Secrets: sec,
		Leads:   c.leader.isLeader,
		Logger:  c.cfg.Logger.Named("jwks"),
		OnChange: func() {
			if err := c.publish(c.runCtx); err != nil && c.runCtx.Err() == nil {
				c.log.Error("publishing new JWKS keys failed", "error", err)
			}
		},
	})
}
