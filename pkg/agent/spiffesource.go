package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/workloadapi"
)

// runWorkloadAPISource takes the SVID and bundle from the SPIFFE Workload
// API at cfg.SPIFFESocket (a SPIRE agent's, say) instead of the control
// plane, and publishes every change through update, like an attestation
// or a rotation. That server owns rotation and expiry: the manager only
// follows it. It returns when ctx is done.
func (m *Manager) runWorkloadAPISource(ctx context.Context) error {
	addr := "unix://" + m.cfg.SPIFFESocket
	// NewX509Source blocks, retrying, until the first SVID arrives.
	src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr(addr)))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("the Workload API at %s: %w", m.cfg.SPIFFESocket, err)
	}
	defer src.Close()
	for {
		m.takeFromSource(src)
		select {
		case <-ctx.Done():
			return nil
		case <-src.Updated():
		}
	}
}

// takeFromSource publishes src's SVID and the roots of its trust domain
// when either changed.
func (m *Manager) takeFromSource(src *workloadapi.X509Source) {
	svid, err := src.GetX509SVID()
	if err != nil {
		m.log.Warn("the Workload API has no X.509-SVID", "error", err)
		return
	}
	b, err := src.GetX509BundleForTrustDomain(svid.ID.TrustDomain())
	if err != nil {
		m.log.Warn("the Workload API has no bundle for the SVID's trust domain", "error", err)
		return
	}
	roots := b.X509Authorities()
	cur := m.Current()
	if cur.SVID != nil && cur.ID == svid.ID && sameCerts(cur.SVID.Certificates, svid.Certificates) && sameCerts(cur.Roots, roots) {
		return
	}
	m.update(func(next *Identity) { next.ID, next.SVID, next.Roots = svid.ID, svid, roots })
	leaf := svid.Certificates[0]
	fmt.Fprintf(m.cfg.Out, "embassy-agent: took SVID %s serial %x from the Workload API at %s; expires %s\n",
		svid.ID, leaf.SerialNumber, m.cfg.SPIFFESocket, leaf.NotAfter.UTC().Format(time.RFC3339))
}
