package identity

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// issuanceSlack is how far IssuedUntil runs ahead of the latest expiry a
// root signed: the state is stored at most once per slack, not on every
// signature, at the price of keeping a retired root that much longer.
const issuanceSlack = time.Minute

// DescribeRoot is the RootInfo of a root certificate, without the
// rotation state only its CA knows.
func DescribeRoot(c *x509.Certificate) RootInfo {
	sum := sha256.Sum256(c.Raw)
	return RootInfo{Fingerprint: hex.EncodeToString(sum[:]), Subject: c.Subject.String(), NotBefore: c.NotBefore, NotAfter: c.NotAfter}
}

// RootInfo describes one root of the trust bundle.
type RootInfo struct {
	// Fingerprint is the hex SHA-256 of the root's DER.
	Fingerprint string    `json:"fingerprint"`
	Subject     string    `json:"subject"`
	NotBefore   time.Time `json:"notBefore"`
	NotAfter    time.Time `json:"notAfter"`
	// Active is true for the root that signs new SVIDs.
	Active bool `json:"active"`
	// SignsFrom is when the root starts (or started) signing; a root
	// published by Rotate is in the bundle before then.
	SignsFrom time.Time `json:"signsFrom,omitzero"`
	// RetireAfter is when a superseded root leaves the bundle: every SVID
	// it signed has expired by then. Zero while the root is active or
	// waiting to sign.
	RetireAfter time.Time `json:"retireAfter,omitzero"`
	// Source names the CA a root belongs to when it is not embassy-cp's
	// own ("spire"); that CA rotates it.
	Source string `json:"source,omitempty"`
}

// ErrCannotRotate is Rotate's error for a CA whose roots are managed
// elsewhere.
var ErrCannotRotate = errors.New("this CA cannot rotate itself")

// Rotate publishes a new builtin root at once. The current root keeps
// signing until the publish delay has passed, so peers learn the new root
// before they meet SVIDs it signed; it then stays in the bundle until its
// last SVID expires. A provided CA rotates by replacing its files.
func (c *CA) Rotate() error {
	if c.provided {
		return fmt.Errorf("%w: a provided CA's roots are its files: replace its cert and key files and restart embassy-cp", ErrCannotRotate)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.refreshLocked(now)
	return c.updateLocked(func() error {
		st, err := newRootState(c.td, now, c.cfg.RootTTL)
		if err != nil {
			return err
		}
		st.SignsFrom = now.Add(c.cfg.PublishDelay)
		// Keep the roots ordered by SignsFrom even if the clock stepped back.
		if last := c.roots[len(c.roots)-1].st.SignsFrom; st.SignsFrom.Before(last) {
			st.SignsFrom = last
		}
		r, err := parseRoot(st)
		if err != nil {
			return err
		}
		c.roots = append(c.roots, r)
		return nil
	})
}

// activeIndexLocked returns the index of the root that signs at now: the
// newest whose SignsFrom has passed (the oldest if the clock stepped back).
func (c *CA) activeIndexLocked(now time.Time) int {
	if c.provided {
		return 0
	}
	for i := len(c.roots) - 1; i > 0; i-- {
		if !now.Before(c.roots[i].st.SignsFrom) {
			return i
		}
	}
	return 0
}

// retireAfterLocked returns when the superseded root i may leave the
// bundle; i must be older than the active root.
func (c *CA) retireAfterLocked(i int) time.Time {
	t := c.roots[i+1].st.SignsFrom
	if u := c.roots[i].st.IssuedUntil; u.After(t) {
		t = u
	}
	return t
}

// refreshLocked adopts the roots another control plane stored, and drops
// the superseded roots whose SVIDs have all expired. Cleanup is lazy:
// every public call runs it. If storing the smaller state fails the roots
// stay, and a later call tries again.
func (c *CA) refreshLocked(now time.Time) {
	c.syncIfStaleLocked(now)
	if c.provided || len(c.retainedLocked(now)) == len(c.roots) {
		return
	}
	_ = c.updateLocked(func() error {
		c.roots = c.retainedLocked(now)
		return nil
	})
}

// retainedLocked is c.roots without the superseded roots whose SVIDs
// have all expired.
func (c *CA) retainedLocked(now time.Time) []*root {
	active := c.activeIndexLocked(now)
	var keep []*root
	for i, r := range c.roots {
		if i < active && now.After(c.retireAfterLocked(i)) {
			continue
		}
		keep = append(keep, r)
	}
	return keep
}

// reserve picks the active root for something that expires at notAfter
// (capped at the root's own expiry) and records the expiry in the stored
// state before anything is signed.
func (c *CA) reserve(now, notAfter time.Time) (*root, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshLocked(now)
	r := c.roots[c.activeIndexLocked(now)]
	if !now.Before(r.expires) {
		return nil, time.Time{}, fmt.Errorf("the signing CA %q expired at %s: rotate the CA", r.signer.Subject, r.expires.UTC().Format(time.RFC3339))
	}
	if notAfter.After(r.expires) {
		notAfter = r.expires
	}
	if r.st == nil || !notAfter.After(r.st.IssuedUntil) {
		return r, notAfter, nil
	}
	err := c.updateLocked(func() error {
		// Pick again: the stored state may have changed under a retry.
		r = c.roots[c.activeIndexLocked(now)]
		if !notAfter.After(r.st.IssuedUntil) {
			return nil
		}
		mark := notAfter.Add(issuanceSlack)
		if mark.After(r.cert.NotAfter) {
			mark = r.cert.NotAfter
		}
		if mark.Before(notAfter) {
			mark = notAfter
		}
		r.st.IssuedUntil = mark
		return nil
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	return r, notAfter, nil
}

// Bundle returns every root a peer must trust now, oldest first.
func (c *CA) Bundle() []*x509.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refreshLocked(c.now())
	out := make([]*x509.Certificate, 0, len(c.roots))
	for _, r := range c.roots {
		out = append(out, r.cert)
	}
	return out
}

// X509Bundle returns the bundle as a go-spiffe X.509 bundle.
func (c *CA) X509Bundle() *x509bundle.Bundle {
	return x509bundle.FromX509Authorities(c.td, c.Bundle())
}

// GetX509BundleForTrustDomain implements x509bundle.Source, so a CA can
// verify SVIDs with go-spiffe directly (x509svid.Verify).
func (c *CA) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	if td != c.td {
		return nil, fmt.Errorf("no X.509 bundle for trust domain %q: this CA serves %q", td, c.td)
	}
	return c.X509Bundle(), nil
}

// GetJWTBundleForTrustDomain implements jwtbundle.Source, so a CA can
// validate JWT-SVIDs with go-spiffe directly (jwtsvid.ParseAndValidate).
func (c *CA) GetJWTBundleForTrustDomain(td spiffeid.TrustDomain) (*jwtbundle.Bundle, error) {
	if td != c.td {
		return nil, fmt.Errorf("no JWT bundle for trust domain %q: this CA serves %q", td, c.td)
	}
	return c.JWTBundle(), nil
}

// Roots describes the roots of the bundle, oldest first.
func (c *CA) Roots() []RootInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.refreshLocked(now)
	active := c.activeIndexLocked(now)
	out := make([]RootInfo, 0, len(c.roots))
	for i, r := range c.roots {
		ri := DescribeRoot(r.cert)
		ri.Active = i == active
		if r.st != nil {
			ri.SignsFrom = r.st.SignsFrom
			if i < active {
				ri.RetireAfter = c.retireAfterLocked(i)
			}
		}
		out = append(out, ri)
	}
	return out
}
