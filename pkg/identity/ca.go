package identity

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/store"
)

// CA types.
const (
	CATypeBuiltin  = "builtin"
	CATypeProvided = "provided"
)

// Secret names in the store's Secrets area.
const (
	// SecretRoots holds the builtin roots, their keys, their JWT keys and
	// the rotation state.
	SecretRoots = "ca/roots"
	// SecretProvidedJWT holds the JWT-SVID signing key of a provided CA
	// (the provided CA's own key is never stored).
	SecretProvidedJWT = "ca/jwt"
)

// Defaults of CAConfig.
const (
	DefaultRootTTL = 10 * 365 * 24 * time.Hour
	// DefaultPublishDelay leaves agents five of their one-minute bundle
	// refreshes to learn a new root before it signs.
	DefaultPublishDelay = 5 * time.Minute
	DefaultMaxSVIDTTL   = 24 * time.Hour
)

// clockSkew backdates NotBefore so peers whose clocks run a little behind
// accept a fresh certificate.
const clockSkew = 30 * time.Second

// CAConfig configures the control plane's CA.
type CAConfig struct {
	// TrustDomain is the mesh's trust domain; dataplane.DefaultTrustDomain when empty.
	TrustDomain string
	// Type is "builtin" (default) or "provided".
	Type string
	// CertFile and KeyFile name the provided CA's PEM files: the CA cert,
	// optionally followed by its chain up to the root, and its key
	// (PKCS#8, SEC 1 EC or PKCS#1 RSA).
	CertFile, KeyFile string
	// RootTTL is the lifetime of a builtin root; DefaultRootTTL when zero.
	RootTTL time.Duration
	// PublishDelay is how long a new root is in the bundle before it signs;
	// DefaultPublishDelay when zero.
	PublishDelay time.Duration
	// MaxSVIDTTL caps the lifetime of every SVID, which bounds how long an
	// old root must stay in the bundle; DefaultMaxSVIDTTL when zero.
	MaxSVIDTTL time.Duration
}

// withDefaults fills in the defaults and checks the values.
func (cfg CAConfig) withDefaults() (CAConfig, spiffeid.TrustDomain, error) {
	if cfg.TrustDomain == "" {
		cfg.TrustDomain = dataplane.DefaultTrustDomain
	}
	td, err := spiffeid.TrustDomainFromString(cfg.TrustDomain)
	if err != nil {
		return cfg, td, fmt.Errorf("trust domain %q: %w (use a lowercase DNS-like name such as %q)", cfg.TrustDomain, err, dataplane.DefaultTrustDomain)
	}
	if cfg.Type == "" {
		cfg.Type = CATypeBuiltin
	}
	if cfg.Type != CATypeBuiltin && cfg.Type != CATypeProvided {
		return cfg, td, fmt.Errorf("CA type %q is unknown: use %q or %q", cfg.Type, CATypeBuiltin, CATypeProvided)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"rootTTL", &cfg.RootTTL, DefaultRootTTL}, {"publishDelay", &cfg.PublishDelay, DefaultPublishDelay}, {"maxSVIDTTL", &cfg.MaxSVIDTTL, DefaultMaxSVIDTTL}} {
		if *d.v < 0 {
			return cfg, td, fmt.Errorf("CA %s is negative (%s): use a positive duration or 0 for the default", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.RootTTL <= 2*cfg.MaxSVIDTTL {
		return cfg, td, fmt.Errorf("CA rootTTL %s must be more than twice maxSVIDTTL %s", cfg.RootTTL, cfg.MaxSVIDTTL)
	}
	return cfg, td, nil
}

// CA is the trust domain's certificate authority. It is safe for concurrent
// use.
type CA struct {
	cfg      CAConfig
	td       spiffeid.TrustDomain
	sec      store.Secrets
	now      func() time.Time
	provided bool

	mu sync.Mutex
	// roots are ordered by signsFrom, oldest first. A provided CA has one.
	roots []*root
	// raw is SecretRoots as last read or written, and syncedAt when it
	// was last read: every change is swapped in over raw.
	raw      []byte
	syncedAt time.Time
	// syncing is set while a background read of the roots runs.
	syncing bool
}

// root is one signing authority: a builtin root or the provided CA.
type root struct {
	// cert is the self-signed root that goes into the bundle.
	cert *x509.Certificate
	// signer is the certificate whose key signs leaves: cert itself, or the
	// provided intermediate.
	signer *x509.Certificate
	key    crypto.Signer
	// chain is what follows the leaf in an SVID (provided intermediates).
	chain []*x509.Certificate
	// expires is the earliest NotAfter of signer, chain and cert: nothing
	// signed may outlive it.
	expires time.Time
	jwt     jwtKey
	// st is the persisted state; nil for a provided CA.
	st *rootState
}

// LoadOrCreateCA returns the control plane's CA. A builtin CA loads its
// roots from sec (SecretRoots) or makes a first root and stores it. A
// provided CA reads cfg.CertFile and cfg.KeyFile, checks that they match and
// that the cert is a CA, and never stores the key. now is the clock
// (time.Now when nil).
func LoadOrCreateCA(sec store.Secrets, cfg CAConfig, now func() time.Time) (*CA, error) {
	if sec == nil {
		return nil, fmt.Errorf("CA needs the store's Secrets to keep its state")
	}
	cfg, td, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	c := &CA{cfg: cfg, td: td, sec: sec, now: now, provided: cfg.Type == CATypeProvided}
	if c.provided {
		r, err := loadProvided(cfg, td, now())
		if err != nil {
			return nil, err
		}
		if r.jwt, err = loadOrCreateJWTKey(sec); err != nil {
			return nil, err
		}
		c.roots = []*root{r}
		return c, nil
	}
	if err := c.loadOrCreateBuiltin(); err != nil {
		return nil, err
	}
	return c, nil
}

// TrustDomain returns the CA's trust domain.
func (c *CA) TrustDomain() spiffeid.TrustDomain { return c.td }

// MaxSVIDTTL returns the longest lifetime the CA gives an SVID.
func (c *CA) MaxSVIDTTL() time.Duration { return c.cfg.MaxSVIDTTL }
