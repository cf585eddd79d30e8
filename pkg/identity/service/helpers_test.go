package service

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/events"
	"embassy.dev/embassy/pkg/identity"
	idclient "embassy.dev/embassy/pkg/identity/client"
	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"

	"embassy.dev/embassy/internal/applytest"
	"embassy.dev/embassy/internal/idtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
)

var td = spiffeid.RequireTrustDomainFromString("example.org")

// clock is a settable clock for the tokens, so expiry needs no sleeping.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// env is the identity service on a real TLS gRPC server on loopback, over
// a memory store and a real CA.
type env struct {
	t      *testing.T
	st     *store.Memory
	ca     *identity.CA
	tokens *identity.Tokens
	svc    *Service
	addr   string
	clock  *clock
	logs   *syncbuf.Buffer
	events *events.Bus

	mu     sync.Mutex
	deltas []AuthzDelta // every delta handed to OnAuthzDecisions
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with set changing the service's Config first.
func newEnvWith(t *testing.T, set func(*Config)) *env {
	t.Helper()
	e := &env{t: t, clock: &clock{}, logs: &syncbuf.Buffer{}, events: events.New(100)}
	id := idtest.New(t, td.Name(), e.clock.now)
	e.st, e.ca, e.tokens = id.Store, id.CA, id.Tokens
	log := hclog.New(&hclog.LoggerOptions{Name: "test", Level: hclog.Trace, Output: e.logs})
	cfg := Config{
		CA: e.ca, Tokens: e.tokens, Store: e.st, Applier: apply.New(e.st),
		LeaseTTL: time.Second, SweepInterval: 20 * time.Millisecond,
		Logger: log,
		Events: e.events,
		OnAuthzDecisions: func(ds []AuthzDelta) {
			e.mu.Lock()
			e.deltas = append(e.deltas, ds...)
			e.mu.Unlock()
		},
	}
	if set != nil {
		set(&cfg)
	}
	var err error
	e.svc, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tlsSrv, err := NewServerTLS(e.ca, "127.0.0.1", nil, 0, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(tlsSrv.Config())))
	e.svc.Register(g)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { e.svc.Run(ctx); done <- struct{}{} }()
	go func() { _ = g.Serve(lis); done <- struct{}{} }()
	t.Cleanup(func() {
		cancel()
		g.Stop()
		<-done
		<-done
	})
	e.addr = lis.Addr().String()
	return e
}

// authzDeltas returns the deltas the service handed on so far.
func (e *env) authzDeltas() []AuthzDelta {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]AuthzDelta(nil), e.deltas...)
}

// token makes a join token, limited to services when any are named.
func (e *env) token(ns, sa, workload string, ttl time.Duration, singleUse bool, services ...string) string {
	e.t.Helper()
	secret, _, err := e.tokens.Create(ns, sa, workload, ttl, singleUse, services...)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// agent is a client of the service holding a key and, after attesting,
// an SVID.
type agent struct {
	t    *testing.T
	addr string
	key  crypto.Signer
	mu   sync.Mutex
	cert *tls.Certificate
	c    *idclient.Client
}

func (e *env) agent() *agent {
	e.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	a := &agent{t: e.t, addr: e.addr, key: key}
	a.c, err = idclient.Dial(e.addr, e.ca.Bundle(), a.current)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { a.c.Close() })
	return a
}

func (a *agent) current() *tls.Certificate {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cert
}

// csr makes a CSR for the agent's key, with uri as its URI SAN when set.
func (a *agent) csr(uri string) []byte {
	a.t.Helper()
	tmpl := &x509.CertificateRequest{}
	if uri != "" {
		u, err := url.Parse(uri)
		if err != nil {
			a.t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, a.key)
	if err != nil {
		a.t.Fatal(err)
	}
	return der
}

// take installs an SVID response as the agent's certificate, checking that
// it verifies against its bundle. New connections present it; the client
// is redialled so the next call does.
func (a *agent) take(resp *wire.SVIDResponse, bundle []*x509.Certificate) spiffeid.ID {
	a.t.Helper()
	crt, _, err := idclient.ParseSVID(resp, a.key)
	if err != nil {
		a.t.Fatal(err)
	}
	a.mu.Lock()
	a.cert = crt
	a.mu.Unlock()
	a.c.Close()
	if a.c, err = idclient.Dial(a.addr, bundle, a.current); err != nil {
		a.t.Fatal(err)
	}
	return spiffeid.RequireFromString(resp.SpiffeId)
}

// attest runs Attest with a fresh CSR and installs the SVID.
func (e *env) attest(a *agent, token, workload string) spiffeid.ID {
	e.t.Helper()
	resp, err := a.c.Attest(context.Background(), &wire.AttestRequest{Token: token, Csr: a.csr(""), Workload: workload})
	if err != nil {
		e.t.Fatalf("attest: %v", err)
	}
	return a.take(resp, e.ca.Bundle())
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// serviceWeb is Service web of namespace shop, served by service accounts
// a and default.
const serviceWeb = `apiVersion: embassy.dev/v1alpha1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  serviceAccounts: [a, default]
  ports:
  - name: http
    port: 8080
    protocol: http
`

// applyYAML applies documents to the env's store.
func (e *env) applyYAML(doc string) {
	e.t.Helper()
	applytest.Apply(e.t, e.st, doc)
}

// untilGone waits until the env's store no longer holds key, naming what
// it waited for and what the store last held.
func (e *env) untilGone(what string, key resource.Key) {
	e.t.Helper()
	poll.UntilState(e.t, what, func() (bool, string) {
		r, err := e.st.Get(context.Background(), key)
		if err != nil {
			return true, ""
		}
		return false, fmt.Sprintf("%s is stored at revision %d: %+v", key, e.st.Revision(), r.Spec)
	})
}
