package agent

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc"
)

// standIn is a fake SPIRE agent for a unit test of the agent's logic: the
// agent's own Workload API server, fed by a throwaway CA of the same trust
// domain as the control plane's but with other roots, so whatever the
// agent serves can be traced to it. No SPIRE binary is involved.
type standIn struct {
	ca      *testCA
	mu      sync.Mutex
	cur     *Identity
	changed chan struct{}
}

func (s *standIn) Watch() (*Identity, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur, s.changed
}

// issue makes a new key and SVID for testID and serves them.
func (s *standIn) issue(t *testing.T) *x509svid.SVID {
	t.Helper()
	key, csr, err := newKeyAndCSR()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.ca.sign(csr, testID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	svid, roots, err := parseSVIDResponse(resp, key)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.cur = &Identity{ID: testID, SVID: svid, Roots: roots}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return svid
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
	g := grpc.NewServer()
	NewWorkloadAPI(s, nil, nil).Register(g)
	go g.Serve(lis)
	t.Cleanup(g.Stop)
	return s, path
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
		chain, err := os.ReadFile(ta.path(CertFile))
		if err != nil {
			t.Fatal(err)
		}
		roots, err := os.ReadFile(ta.path(BundleFile))
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
