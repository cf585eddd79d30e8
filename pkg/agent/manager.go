package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"embassy.dev/embassy/pkg/spiffe"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/identity/wire"
)

// Defaults of ManagerConfig.
const (
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = 30 * time.Second
	DefaultBundleInterval = time.Minute
	DefaultCallTimeout    = 10 * time.Second
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// ControlPlane signs CSRs and serves the bundle.
	ControlPlane ControlPlane
	// Token is the join token; the manager forgets it after a successful
	// Attest. TokenFile, when set, is read for it instead each time one is
	// needed (see ReadTokenFile): at the first attestation and at every
	// re-attestation, so that an operator can write a new token there;
	// without it the manager does not re-attest. Neither the token nor the
	// file's content is ever logged.
	Token     string
	TokenFile string
	// KubernetesToken says TokenFile holds a service-account token (see
	// Config.KubernetesToken).
	KubernetesToken bool
	// Workload is the name of the Workload the agent runs, sent with the
	// token so a token restricted to one workload can be checked.
	Workload string
	// Logger defaults to a null logger; Out receives the progress lines
	// meant for the operator (default: discarded).
	Logger hclog.Logger
	Out    io.Writer
	// MinBackoff and MaxBackoff bound the retries of failed calls to the
	// control plane (defaults 1s and 30s).
	MinBackoff, MaxBackoff time.Duration
	// BundleInterval is how often the bundle is fetched between renewals
	// (default 1m).
	BundleInterval time.Duration
	// CallTimeout bounds each call to the control plane (default 10s).
	CallTimeout time.Duration
	// SPIFFESocket, when set, is the unix socket of a SPIFFE Workload API
	// (a SPIRE agent's): the SVID and bundle come from it, and the manager
	// neither attests nor renews with the control plane.
	SPIFFESocket string
	// ResumeDir, when set, is where a previous run wrote its PEM files
	// (the agent's socket directory). Run starts from the SVID there when
	// it is still valid, and renews it at once, instead of presenting the
	// join token, which may have been single-use (see LoadPEMFiles).
	// TrustBundle verifies that SVID's chain when the bundle file there
	// does not.
	ResumeDir   string
	TrustBundle []*x509.Certificate
}

// Manager holds the workload's X.509-SVID: it attests with the join token
// (or starts from the SVID a previous run left in ResumeDir), then renews
// at half of each SVID's lifetime (±10%) with a fresh key, and publishes
// every change as a new immutable Identity. While the control plane is
// unreachable it keeps the current SVID until it expires, then withholds
// it, and keeps retrying with exponential backoff. The control plane
// renews only a valid SVID, so once the SVID has expired, or a renewal is
// refused, the manager also re-attests with the token it reads again from
// TokenFile (see recovery), for the same SPIFFE ID only.
//
// Manager implements x509svid.Source and x509bundle.Source.
type Manager struct {
	cfg   ManagerConfig
	log   hclog.Logger
	sinks []func(*Identity)

	mu        sync.Mutex
	cur       *Identity
	changed   chan struct{}
	ready     chan struct{}
	readyOnce sync.Once
}

var (
	_ x509svid.Source   = (*Manager)(nil)
	_ x509bundle.Source = (*Manager)(nil)
)

// NewManager returns a Manager; call OnUpdate to add subscribers, then Run.
func NewManager(cfg ManagerConfig) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.BundleInterval <= 0 {
		cfg.BundleInterval = DefaultBundleInterval
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	return &Manager{
		cfg:     cfg,
		log:     cfg.Logger,
		cur:     &Identity{},
		changed: make(chan struct{}),
		ready:   make(chan struct{}),
	}
}

// OnUpdate adds a subscriber. Subscribers are called in the order they
// were added, one publication at a time, from the manager's goroutine,
// before Watch's channel is closed; they must not block for long. It must
// be called before Run.
func (m *Manager) OnUpdate(f func(*Identity)) { m.sinks = append(m.sinks, f) }

// Ready is closed once the first SVID is published.
func (m *Manager) Ready() <-chan struct{} { return m.ready }

// Current returns the identity being served now. It is never nil; its
// SVID is nil before attestation and after expiry.
func (m *Manager) Current() *Identity {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur
}

// Watch returns the current identity and a channel closed when a newer
// one is published.
func (m *Manager) Watch() (*Identity, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cur, m.changed
}

// GetX509SVID implements x509svid.Source.
func (m *Manager) GetX509SVID() (*x509svid.SVID, error) {
	if s := m.Current().SVID; s != nil {
		return s, nil
	}
	return nil, errors.New("no X.509-SVID: not attested yet, or expired")
}

// GetX509BundleForTrustDomain implements x509bundle.Source.
func (m *Manager) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	cur := m.Current()
	if cur.ID.IsZero() || cur.ID.TrustDomain() != td {
		return nil, fmt.Errorf("no bundle for trust domain %q", td)
	}
	return cur.X509Bundle(), nil
}

// TLSCertificate returns the current SVID for the client side of mTLS to
// the control plane; without one it returns an empty certificate, which
// makes TLS send none. It is safe on a nil Manager, so a client can be
// dialled with it before the Manager exists.
func (m *Manager) TLSCertificate() *tls.Certificate {
	if m != nil {
		if c := m.Current().TLSCertificate(); c != nil {
			return c
		}
	}
	return &tls.Certificate{}
}

// Run attests, or resumes from the PEM files of a previous run, and then
// keeps the SVID fresh until ctx is done. It returns an error only when
// the first attestation is refused for good (a bad token). With
// SPIFFESocket set it follows that Workload API instead.
func (m *Manager) Run(ctx context.Context) error {
	if m.cfg.SPIFFESocket != "" {
		return m.runWorkloadAPISource(ctx)
	}
	resumed := m.resume()
	if !resumed {
		if err := m.attestAndPublish(ctx); err != nil {
			return err
		}
	}
	return m.keepFresh(ctx, resumed)
}

// attestAndPublish attests with the join token and publishes the SVID.
func (m *Manager) attestAndPublish(ctx context.Context) error {
	svid, roots, err := m.attest(ctx)
	if err != nil {
		return err
	}
	m.cfg.Token = ""
	// The line goes first, so whoever sees the SVID can see the line.
	fmt.Fprintf(m.cfg.Out, "embassy-agent: attested as %s; SVID serial %x expires %s\n",
		svid.ID, svid.Certificates[0].SerialNumber, svid.Certificates[0].NotAfter.UTC().Format(time.RFC3339))
	m.update(func(next *Identity) { next.ID, next.SVID, next.Roots = svid.ID, svid, roots })
	m.refreshBundle(ctx)
	return nil
}

// attest presents the join token with a fresh CSR, retrying with backoff
// while the control plane cannot be reached. The token is read again for
// each attempt, so a token file fixed meanwhile is used.
func (m *Manager) attest(ctx context.Context) (*x509svid.SVID, []*x509.Certificate, error) {
	backoff := m.cfg.MinBackoff
	for {
		token, err := m.token()
		if err != nil {
			return nil, nil, fmt.Errorf("the join token: %w", err)
		}
		svid, roots, err := m.attestWith(ctx, token)
		if err == nil {
			return svid, roots, nil
		}
		if isRefusal(err) || status.Code(err) == codes.InvalidArgument {
			return nil, nil, fmt.Errorf("attestation refused: %w", err)
		}
		m.log.Warn("attesting failed; retrying", "error", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, m.cfg.MaxBackoff)
	}
}

// attestWith presents token with a CSR for a fresh key.
func (m *Manager) attestWith(ctx context.Context, token string) (*x509svid.SVID, []*x509.Certificate, error) {
	return m.sign(ctx, func(ctx context.Context, csr []byte) (*wire.SVIDResponse, error) {
		req := &wire.AttestRequest{Token: token, Csr: csr, Workload: m.cfg.Workload}
		if m.cfg.KubernetesToken {
			req.Token, req.KubernetesToken = "", token
		}
		return m.cfg.ControlPlane.Attest(ctx, req)
	})
}

// token returns the join token: TokenFile's content, read afresh, when it
// is set, else Token.
func (m *Manager) token() (string, error) {
	switch {
	case m.cfg.TokenFile != "" && m.cfg.KubernetesToken:
		return ReadServiceAccountToken(m.cfg.TokenFile)
	case m.cfg.TokenFile != "":
		return ReadTokenFile(m.cfg.TokenFile)
	}
	return m.cfg.Token, nil
}

// isRefusal reports whether the control plane refused a call for good:
// the credential presented (token or SVID) is not accepted, so the same
// call would be refused again.
func isRefusal(err error) bool {
	switch status.Code(err) {
	case codes.Unauthenticated, codes.PermissionDenied:
		return true
	}
	return false
}

// renew asks for a new SVID for a new key, authenticated by the current one.
func (m *Manager) renew(ctx context.Context) (*x509svid.SVID, []*x509.Certificate, error) {
	svid, roots, err := m.sign(ctx, m.cfg.ControlPlane.Renew)
	if err != nil {
		return nil, nil, err
	}
	if want := m.Current().ID; svid.ID != want {
		return nil, nil, fmt.Errorf("renewal returned an SVID for %s, not %s", svid.ID, want)
	}
	return svid, roots, nil
}

// sign makes a key and CSR, sends the CSR with call and checks the answer.
func (m *Manager) sign(ctx context.Context, call func(context.Context, []byte) (*wire.SVIDResponse, error)) (*x509svid.SVID, []*x509.Certificate, error) {
	key, csr, err := spiffe.NewKeyAndCSR()
	if err != nil {
		return nil, nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	defer cancel()
	resp, err := call(cctx, csr)
	if err != nil {
		return nil, nil, err
	}
	return parseSVIDResponse(resp, key)
}

// renewDelay is half of the SVID's remaining lifetime, ±10%.
func (m *Manager) renewDelay(svid *x509svid.SVID, now time.Time) time.Duration {
	leaf := svid.Certificates[0]
	start := now
	if leaf.NotBefore.After(now) {
		start = leaf.NotBefore
	}
	half := leaf.NotAfter.Sub(start) / 2
	jitter := 0.9 + 0.2*rand.Float64()
	return start.Sub(now) + time.Duration(float64(half)*jitter)
}

// refreshBundle fetches the bundle and publishes it if it changed. A
// failure is logged: the next renewal or tick tries again.
func (m *Manager) refreshBundle(ctx context.Context) {
	cctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	defer cancel()
	resp, err := m.cfg.ControlPlane.Bundle(cctx)
	if err != nil {
		m.log.Warn("fetching the trust bundle failed", "error", err)
		return
	}
	roots, jwks, err := parseBundleResponse(resp, m.Current().ID.TrustDomain())
	if err != nil {
		m.log.Warn("the control plane sent a bad trust bundle", "error", err)
		return
	}
	cur := m.Current()
	if sameCerts(cur.Roots, roots) && string(cur.JWKS) == string(jwks) {
		return
	}
	m.log.Info("trust bundle updated", "roots", len(roots))
	m.update(func(next *Identity) { next.Roots, next.JWKS = roots, jwks })
}

// update publishes a copy of the current identity changed by edit: first
// to the subscribers, then to Current and Watch, so that whoever sees the
// new identity there can rely on the files and SDS holding it too. Only
// Run's goroutine calls it, so m.cur cannot change between the two steps.
func (m *Manager) update(edit func(next *Identity)) {
	next := *m.Current()
	edit(&next)
	next.Generation++
	for _, f := range m.sinks {
		f(&next)
	}
	m.mu.Lock()
	m.cur = &next
	changed := m.changed
	m.changed = make(chan struct{})
	m.mu.Unlock()
	close(changed)
	if next.SVID != nil {
		m.readyOnce.Do(func() { close(m.ready) })
	}
}
