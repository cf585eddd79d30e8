package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/resource"

	"embassy.dev/embassy/internal/syncbuf"
)

// standIn is a fake SPIRE agent for a unit test of the agent's logic: the
// agent's own Workload API server, fed by a throwaway CA of the same trust
// domain as the control plane's but with other roots, so whatever the
// agent serves can be traced to it. It signs JWT-SVIDs with a key of its
// own, served as its JWT bundle. No SPIRE binary is involved.
type standIn struct {
	ca      *testCA
	mu      sync.Mutex
	cur     *Identity
	changed chan struct{}
	jwtKey  *ecdsa.PrivateKey // signs JWT-SVIDs; its key ID is jwtKID
	jwtKID  string
	keys    int      // JWT keys made so far
	asked   []string // the SPIFFE ID each FetchJWTSVID asked for
}

func (s *standIn) Watch() (*Identity, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur, s.changed
}

// issue makes a new key and SVID for testID and serves them.
func (s *standIn) issue(t *testing.T) *x509svid.SVID {
	t.Helper()
	return s.serve(t, testID, false)
}

// rotate serves a new SVID for testID and a new JWT key together, in one
// change, and returns the SVID and the key's ID.
func (s *standIn) rotate(t *testing.T) (*x509svid.SVID, string) {
	t.Helper()
	svid := s.serve(t, testID, true)
	s.mu.Lock()
	defer s.mu.Unlock()
	return svid, s.jwtKID
}

// serve makes a new key and SVID for id and serves them, with a new JWT
// key when newJWTKey.
func (s *standIn) serve(t *testing.T, id spiffeid.ID, newJWTKey bool) *x509svid.SVID {
	t.Helper()
	next := s.ca.issue(t, id, time.Hour)
	s.mu.Lock()
	defer s.mu.Unlock()
	next.JWKS = s.cur.JWKS
	if newJWTKey {
		s.keys++
		s.jwtKey, s.jwtKID = newJWTKeyPair(t), fmt.Sprintf("k%d", s.keys)
		next.JWKS = jwksOf(t, s.jwtKey, s.jwtKID)
	}
	s.cur = next
	close(s.changed)
	s.changed = make(chan struct{})
	return next.SVID
}

// MintJWT signs a JWT-SVID for the served ID, as SPIRE would.
func (s *standIn) MintJWT(_ context.Context, audience []string) (*wire.JWTResponse, error) {
	s.mu.Lock()
	key, kid, id := s.jwtKey, s.jwtKID, s.cur.ID
	s.mu.Unlock()
	if key == nil {
		return nil, status.Error(codes.Unavailable, "no JWT key yet")
	}
	return mintJWT(key, kid, id, audience)
}

// record keeps the SPIFFE ID each FetchJWTSVID request asks for.
func (s *standIn) record(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	if r, ok := req.(*workload.JWTSVIDRequest); ok {
		s.mu.Lock()
		s.asked = append(s.asked, r.SpiffeId)
		s.mu.Unlock()
	}
	return next(ctx, req)
}

// jwtSubjects returns the SPIFFE IDs FetchJWTSVID requests asked for.
func (s *standIn) jwtSubjects() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.asked...)
}

// startStandIn serves a standIn's Workload API on a socket in a new
// directory and returns it with the socket's path.
func startStandIn(t *testing.T) (*standIn, string) {
	t.Helper()
	s := &standIn{ca: newTestCA(t), cur: &Identity{}, changed: make(chan struct{})}
	path := filepath.Join(shortTempDir(t), "spire.sock")
	lis, err := listenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.UnaryInterceptor(s.record))
	NewWorkloadAPI(s, s, nil).Register(g)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return s, path
}

func newJWTKeyPair(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// jwksOf is the JSON Web Key Set of key's public half, as kid.
func jwksOf(t *testing.T, key *ecdsa.PrivateKey, kid string) []byte {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: kid, Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An agent started with a SPIFFE Workload API socket serves that API's
// SVID, not one from the control plane, on its own Workload API and in its
// PEM files, and follows a rotation there.
func TestAgentTakesSVIDsFromWorkloadAPISocket(t *testing.T) {
	spire, sock := startStandIn(t)
	first := spire.issue(t)
	cp := newFakeCP(t, time.Hour)
	ta := startAgent(t, cp, func(c *Config) { c.SPIFFESocket = sock; c.Token = "" })
	bundle := x509bundle.FromX509Authorities(testTD, []*x509.Certificate{spire.ca.root})

	c := newWorkloadClient(t, ta)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	w := x509Watcher{updates: make(chan *workloadapi.X509Context, 10)}
	go c.WatchX509Context(ctx, w)
	check := func(want *x509svid.SVID) {
		t.Helper()
		for {
			var x *workloadapi.X509Context
			select {
			case x = <-w.updates:
			case <-ctx.Done():
				t.Fatalf("the agent's Workload API did not serve serial %x", want.Certificates[0].SerialNumber)
			}
			svid := x.DefaultSVID()
			if !svid.Certificates[0].Equal(want.Certificates[0]) {
				continue
			}
			if id, _, err := x509svid.Verify(svid.Certificates, bundle); err != nil || id != testID {
				t.Fatalf("x509svid.Verify against the stand-in's bundle: %v, %v", id, err)
			}
			break
		}
		waitIdentity(t, ta.Manager(), 10*time.Second, "published SVID", func(id *Identity) bool {
			return id.SVID != nil && id.SVID.Certificates[0].Equal(want.Certificates[0])
		})
		chain, err := os.ReadFile(ta.path(dataplane.CertFile))
		if err != nil {
			t.Fatal(err)
		}
		roots, err := os.ReadFile(ta.path(dataplane.BundleFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(chain, certsPEM(want.Certificates)) || !bytes.Equal(roots, certsPEM([]*x509.Certificate{spire.ca.root})) {
			t.Fatalf("the PEM files do not hold the stand-in's SVID %x and roots", want.Certificates[0].SerialNumber)
		}
	}
	check(first)
	check(spire.issue(t))

	if out := ta.out.String(); strings.Contains(out, "attested as") || !strings.Contains(out, "from the Workload API at "+sock) {
		t.Fatalf("output:\n%s", out)
	}
	select {
	case <-cp.registered: // registration still goes to the control plane
	case <-ctx.Done():
		t.Fatal("the workload was not registered")
	}
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.renewals != 0 {
		t.Fatalf("the agent renewed with the control plane %d times", cp.renewals)
	}
}

// runSPIFFEAgent runs an agent that takes its SVIDs from the Workload API
// at sock, with sink subscribed before it starts, without waiting for it
// to serve. stop ends it and waits; it also runs at cleanup.
func runSPIFFEAgent(t *testing.T, sock string, log hclog.Logger, sink func(*Identity)) (a *Agent, stop func()) {
	t.Helper()
	a, err := New(Config{
		SocketDir:        shortTempDir(t),
		ControlPlane:     newFakeCP(t, time.Hour),
		SPIFFESocket:     sock,
		Workload:         "web-1.shop",
		Spec:             resource.WorkloadSpec{Address: "10.0.0.7", Services: []string{"web"}},
		RegisterInterval: 50 * time.Millisecond,
		Logger:           log,
		MinBackoff:       50 * time.Millisecond,
		MaxBackoff:       400 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	a.Manager().OnUpdate(sink)
	r := runAgent(t, a)
	return a, func() { r.stop(t) }
}

// logWaiter is a logger's output that wakes whoever waits for a line.
type logWaiter struct {
	syncbuf.Buffer
	wrote chan struct{} // capacity 1
}

func newLogWaiter() *logWaiter { return &logWaiter{wrote: make(chan struct{}, 1)} }

func (w *logWaiter) Write(p []byte) (int, error) {
	n, err := w.Buffer.Write(p)
	select {
	case w.wrote <- struct{}{}:
	default:
	}
	return n, err
}

// waitFor waits up to 10s for a line that contains s and returns it.
func (w *logWaiter) waitFor(t *testing.T, s string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		for _, line := range strings.Split(w.String(), "\n") {
			if strings.Contains(line, s) {
				return line
			}
		}
		select {
		case <-w.wrote:
		case <-deadline:
			t.Fatalf("no log line with %q within 10s; the log:\n%s", s, w.String())
		}
	}
}

// hasOnlyJWTKey reports whether id's JWT bundle holds the key kid alone.
func hasOnlyJWTKey(id *Identity, kid string) bool {
	b, err := id.JWTBundle()
	if err != nil {
		return false
	}
	_, ok := b.FindJWTAuthority(kid)
	return ok && len(b.JWTAuthorities()) == 1
}

// The Workload API's SVIDs and JWT keys reach the agent on two streams,
// but it publishes them from one goroutine, one at a time and in order:
// with both rotated together again and again, the subscribers see every
// publication in order, and the agent ends with the latest SVID and key
// in its identity and its files. Run with -race.
func TestAgentPublishesWorkloadAPIRotationsInOrder(t *testing.T) {
	spire, sock := startStandIn(t)
	spire.rotate(t)
	var (
		mu   sync.Mutex
		seen []*Identity
	)
	a, stop := runSPIFFEAgent(t, sock, nil, func(id *Identity) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, id)
	})
	var (
		svid *x509svid.SVID
		kid  string
	)
	for n := range 8 {
		svid, kid = spire.rotate(t)
		waitIdentity(t, a.Manager(), 10*time.Second, fmt.Sprintf("rotation %d (key %s)", n, kid), func(id *Identity) bool {
			return id.SVID != nil && id.SVID.Certificates[0].Equal(svid.Certificates[0]) && hasOnlyJWTKey(id, kid)
		})
	}
	stop()

	mu.Lock()
	defer mu.Unlock()
	for n := 1; n < len(seen); n++ {
		if seen[n].Generation <= seen[n-1].Generation {
			t.Fatalf("the subscribers saw generation %d after %d", seen[n].Generation, seen[n-1].Generation)
		}
	}
	if last := seen[len(seen)-1]; last != a.Manager().Current() {
		t.Fatalf("the subscribers last saw generation %d, not the current %d", last.Generation, a.Manager().Current().Generation)
	}
	chain, err := os.ReadFile(filepath.Join(a.cfg.SocketDir, dataplane.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(chain, certsPEM(svid.Certificates)) {
		t.Fatal("the PEM files do not hold the latest SVID")
	}
}

// The Workload API may offer the agent the control plane's own SVID: the
// agent never serves it, says so, and serves the workload's once offered.
func TestAgentRefusesControlPlaneSVIDFromWorkloadAPI(t *testing.T) {
	spire, sock := startStandIn(t)
	cpID := dataplane.ControlPlaneID(testTD)
	spire.serve(t, cpID, true)
	logs := newLogWaiter()
	var published atomic.Int64
	a, _ := runSPIFFEAgent(t, sock, hclog.New(&hclog.LoggerOptions{Output: logs}), func(*Identity) { published.Add(1) })

	line := logs.waitFor(t, "offers no X.509-SVID")
	if !strings.Contains(line, "[ERROR]") || !strings.Contains(line, cpID.String()) {
		t.Fatalf("the error does not name what was offered: %s", line)
	}
	if n := published.Load(); n != 0 {
		t.Fatalf("the agent published %d identities", n)
	}
	if cur := a.Manager().Current(); !cur.ID.IsZero() || cur.SVID != nil {
		t.Fatalf("the agent holds %s", cur.ID)
	}
	if _, err := os.Stat(filepath.Join(a.cfg.SocketDir, dataplane.CertFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the agent wrote its PEM files: %v", err)
	}

	want := spire.issue(t)
	waitIdentity(t, a.Manager(), 10*time.Second, "the workload's SVID", func(id *Identity) bool {
		return id.SVID != nil && id.SVID.Certificates[0].Equal(want.Certificates[0])
	})
	select {
	case <-a.Serving():
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not serve the workload's SVID within 10s")
	}
}

// Of several SVIDs, the agent takes the first of a workload ID that is not
// the control plane's, and none when there is no such SVID.
func TestSVIDPickerTakesWorkloadIDsOnly(t *testing.T) {
	svids := func(ids ...string) []*x509svid.SVID {
		var s []*x509svid.SVID
		for _, id := range ids {
			s = append(s, &x509svid.SVID{ID: spiffeid.RequireFromString(id)})
		}
		return s
	}
	cp := dataplane.ControlPlaneID(testTD).String()
	for _, c := range []struct {
		offered []string
		want    string
	}{
		{[]string{testID.String()}, testID.String()},
		{[]string{cp, "spiffe://test.embassy/spire/agent/x", testID.String(), "spiffe://test.embassy/ns/shop/sa/db"}, testID.String()},
		{[]string{cp}, ""},
		{[]string{"spiffe://test.embassy/ns/shop", "spiffe://test.embassy/ns/shop/sa/web/extra"}, ""},
		{nil, ""},
	} {
		p := &svidPicker{}
		var picked string
		if got := p.pick(svids(c.offered...)); got != nil {
			picked = got.ID.String()
		}
		if picked != c.want {
			t.Errorf("offered %v: picked %q, want %q", c.offered, picked, c.want)
		}
		if !slices.Equal(p.lastOffered(), c.offered) {
			t.Errorf("offered %v: remembered %v", c.offered, p.lastOffered())
		}
	}
}

// The agent asks the Workload API for JWT-SVIDs of the ID of the X.509-SVID
// it serves, so a Workload API holding several identities cannot answer
// with another one's; a minter that knows no ID asks for none.
func TestAgentFetchesJWTSVIDsForItsOwnID(t *testing.T) {
	spire, sock := startStandIn(t)
	spire.rotate(t)
	ta := startAgent(t, newFakeCP(t, time.Hour), func(c *Config) { c.SPIFFESocket = sock; c.Token = "" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	svid, err := newWorkloadClient(t, ta).FetchJWTSVID(ctx, jwtsvid.Params{Audience: "db"})
	if err != nil {
		t.Fatal(err)
	}
	if svid.ID != testID {
		t.Fatalf("JWT-SVID for %s", svid.ID)
	}
	if got := spire.jwtSubjects(); !slices.Equal(got, []string{testID.String()}) {
		t.Fatalf("the Workload API was asked for JWT-SVIDs of %q, want %q", got, testID)
	}

	if _, err := (SPIFFEJWTMinter{Socket: sock}).MintJWT(ctx, []string{"db"}); err == nil {
		t.Fatal("a minter without the current ID fetched a JWT-SVID")
	}
	if got := spire.jwtSubjects(); len(got) != 1 {
		t.Fatalf("the Workload API was asked %d times", len(got))
	}
}
