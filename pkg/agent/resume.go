package agent

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/spiffe"
)

// LoadPEMFiles reads the X.509-SVID that WritePEMFiles left in dir, for a
// restarted agent to start from instead of presenting its join token
// again, which may have been single-use. The SVID must be valid at now,
// its key must be its leaf's, its SPIFFE ID a workload's, and its chain
// must verify against the bundle file in dir or else against trust. It
// returns the SVID and the roots it verified against, or an error saying
// why the files cannot be used; no error carries key material.
func LoadPEMFiles(dir string, trust []*x509.Certificate, now time.Time) (*x509svid.SVID, []*x509.Certificate, error) {
	chain, err := os.ReadFile(filepath.Join(dir, dataplane.CertFile))
	if err != nil {
		return nil, nil, err
	}
	key, err := os.ReadFile(filepath.Join(dir, dataplane.KeyFile))
	if err != nil {
		return nil, nil, err
	}
	// A missing bundle file leaves trust to vouch for the chain.
	bundle, _ := os.ReadFile(filepath.Join(dir, dataplane.BundleFile))
	return parsePEMFiles(chain, key, bundle, trust, now)
}

// parsePEMFiles is LoadPEMFiles on the files' contents; bundle is nil
// when there is no bundle file.
func parsePEMFiles(chain, key, bundle []byte, trust []*x509.Certificate, now time.Time) (*x509svid.SVID, []*x509.Certificate, error) {
	// Parse checks that the leaf is an SVID and that the key is its key.
	svid, err := x509svid.Parse(chain, key)
	if err != nil {
		return nil, nil, fmt.Errorf("%s and %s: %w", dataplane.CertFile, dataplane.KeyFile, err)
	}
	leaf := svid.Certificates[0]
	switch {
	case !now.Before(leaf.NotAfter):
		return nil, nil, fmt.Errorf("the SVID in %s (serial %x) expired at %s", dataplane.CertFile, leaf.SerialNumber, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, nil, fmt.Errorf("the SVID in %s (serial %x) is not valid before %s", dataplane.CertFile, leaf.SerialNumber, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	if _, _, err := dataplane.ParseWorkloadID(svid.ID); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", dataplane.CertFile, err)
	}
	roots, err := verifiedBy(svid, now, bundle, trust)
	if err != nil {
		return nil, nil, err
	}
	return svid, roots, nil
}

// verifiedBy returns the roots svid's chain verifies against at now: the
// bundle file's (its contents; nil when there is none), or else trust's.
func verifiedBy(svid *x509svid.SVID, now time.Time, bundle []byte, trust []*x509.Certificate) ([]*x509.Certificate, error) {
	verify := func(roots []*x509.Certificate) error {
		if len(roots) == 0 {
			return errors.New("no roots")
		}
		_, _, err := x509svid.Verify(svid.Certificates, x509bundle.FromX509Authorities(svid.ID.TrustDomain(), roots), x509svid.WithTime(now))
		return err
	}
	err := errors.New("no such file")
	var fileRoots []*x509.Certificate
	if bundle != nil {
		fileRoots, err = spiffe.ParseCertsPEM(bundle)
	}
	if err == nil {
		if err = verify(fileRoots); err == nil {
			return fileRoots, nil
		}
	}
	trustErr := verify(trust)
	if trustErr == nil {
		return trust, nil
	}
	return nil, fmt.Errorf("the chain in %s verifies neither against %s (%v) nor against the trust bundle (%v)", dataplane.CertFile, dataplane.BundleFile, err, trustErr)
}

// resume publishes the SVID a previous run left in ResumeDir, when it is
// still good (see LoadPEMFiles), and reports whether it did.
func (m *Manager) resume() bool {
	if m.cfg.ResumeDir == "" {
		return false
	}
	svid, roots, err := LoadPEMFiles(m.cfg.ResumeDir, m.cfg.TrustBundle, time.Now())
	if err != nil {
		m.log.Info("not starting from the PEM files of a previous run; attesting with the join token", "dir", m.cfg.ResumeDir, "reason", err)
		return false
	}
	leaf := svid.Certificates[0]
	m.log.Info("starting from the SVID of a previous run; renewing it", "dir", m.cfg.ResumeDir, "spiffe_id", svid.ID.String(),
		"serial", fmt.Sprintf("%x", leaf.SerialNumber), "not_after", leaf.NotAfter)
	fmt.Fprintf(m.cfg.Out, "embassy-agent: resumed as %s from the SVID in %s (serial %x, expires %s); renewing it without the join token\n",
		svid.ID, m.cfg.ResumeDir, leaf.SerialNumber, leaf.NotAfter.UTC().Format(time.RFC3339))
	m.update(func(next *Identity) { next.ID, next.SVID, next.Roots = svid.ID, svid, roots })
	return true
}
