package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/identity/wire"
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
	m.takeFromSource(src)
	// The JWT keys come from there too, so JWT-SVIDs it signs validate;
	// they are taken for the identity just published.
	jwtCtx, stopJWT := context.WithCancel(ctx)
	jwtDone := make(chan struct{})
	go func() {
		defer close(jwtDone)
		m.watchJWTBundles(jwtCtx, addr)
	}()
	defer func() { stopJWT(); <-jwtDone }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-src.Updated():
		}
		m.takeFromSource(src)
	}
}

// watchJWTBundles publishes the JWT keys of the identity's trust domain
// from the Workload API at addr until ctx is done.
func (m *Manager) watchJWTBundles(ctx context.Context, addr string) {
	client, err := workloadapi.New(ctx, workloadapi.WithAddr(addr))
	if err != nil {
		m.log.Error("the Workload API's JWT bundles", "error", err)
		return
	}
	defer client.Close()
	_ = client.WatchJWTBundles(ctx, jwtBundleWatcher{m})
}

// jwtBundleWatcher hands the Workload API's JWT bundles to the manager.
type jwtBundleWatcher struct{ m *Manager }

func (w jwtBundleWatcher) OnJWTBundlesUpdate(set *jwtbundle.Set) {
	cur := w.m.Current()
	if cur.ID.IsZero() {
		return
	}
	b, ok := set.Get(cur.ID.TrustDomain())
	if !ok {
		w.m.log.Warn("the Workload API has no JWT bundle for the SVID's trust domain", "trust_domain", cur.ID.TrustDomain().Name())
		return
	}
	jwks, err := b.Marshal()
	if err != nil || string(jwks) == string(cur.JWKS) {
		return
	}
	w.m.update(func(next *Identity) { next.JWKS = jwks })
}

func (w jwtBundleWatcher) OnJWTBundlesWatchError(err error) {
	if status.Code(err) != codes.Canceled && !errors.Is(err, context.Canceled) {
		w.m.log.Warn("watching the Workload API's JWT bundles failed; retrying", "error", err)
	}
}

// SPIFFEJWTMinter has the SPIFFE Workload API at Socket (a SPIRE agent's)
// sign the workload's JWT-SVIDs, for an agent whose SVIDs come from there.
type SPIFFEJWTMinter struct{ Socket string }

// MintJWT fetches a JWT-SVID for the audiences.
func (s SPIFFEJWTMinter) MintJWT(ctx context.Context, audience []string) (*wire.JWTResponse, error) {
	if len(audience) == 0 {
		return nil, errors.New("a JWT-SVID needs an audience")
	}
	svid, err := workloadapi.FetchJWTSVID(ctx, jwtsvid.Params{Audience: audience[0], ExtraAudiences: audience[1:]},
		workloadapi.WithAddr("unix://"+s.Socket))
	if err != nil {
		return nil, fmt.Errorf("the Workload API at %s: %w", s.Socket, err)
	}
	return &wire.JWTResponse{Token: svid.Marshal(), ExpiresAt: svid.Expiry}, nil
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
