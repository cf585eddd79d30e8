package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/spiffe"
)

// runWorkloadAPISource takes the SVID and bundle from the SPIFFE Workload
// API at cfg.SPIFFESocket (a SPIRE agent's) instead of the control
// plane, and publishes every change through update, like an attestation
// or a rotation. That server owns rotation and expiry: the manager only
// follows it. It returns when ctx is done.
func (m *Manager) runWorkloadAPISource(ctx context.Context) error {
	addr := "unix://" + m.cfg.SPIFFESocket
	picker := &svidPicker{}
	// NewX509Source blocks, retrying, until the first SVIDs arrive.
	src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr(addr)),
		workloadapi.WithDefaultX509SVIDPicker(picker.pick))
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("the Workload API at %s: %w", m.cfg.SPIFFESocket, err)
	}
	defer src.Close()
	// The JWT keys come from there too, so JWT-SVIDs it signs validate.
	// They are watched on a goroutine of their own but published from
	// this one, like the SVIDs: publications must not overlap (see update).
	jwtUpdates := make(chan jwksByTrustDomain)
	jwtCtx, stopJWT := context.WithCancel(ctx)
	jwtDone := make(chan struct{})
	go func() {
		defer close(jwtDone)
		m.watchJWTBundles(jwtCtx, addr, jwtUpdates)
	}()
	defer func() { stopJWT(); <-jwtDone }()
	var jwks jwksByTrustDomain // nil until the first JWT bundles arrive
	for {
		m.takeFromSource(src, picker, jwks)
		select {
		case <-ctx.Done():
			return nil
		case <-src.Updated():
		case jwks = <-jwtUpdates:
		}
	}
}

// jwksByTrustDomain is the Workload API's JWT bundles, each marshalled as
// a JSON Web Key Set.
type jwksByTrustDomain map[spiffeid.TrustDomain][]byte

// watchJWTBundles sends the JWT bundles of the Workload API at addr to
// updates, each time they change, until ctx is done.
func (m *Manager) watchJWTBundles(ctx context.Context, addr string, updates chan<- jwksByTrustDomain) {
	client, err := workloadapi.New(ctx, workloadapi.WithAddr(addr))
	if err != nil {
		m.log.Error("the Workload API's JWT bundles", "error", err)
		return
	}
	defer client.Close()
	_ = client.WatchJWTBundles(ctx, jwtBundleWatcher{ctx: ctx, log: m.log, updates: updates})
}

// jwtBundleWatcher hands the Workload API's JWT bundles to the manager's
// goroutine.
type jwtBundleWatcher struct {
	ctx     context.Context
	log     hclog.Logger
	updates chan<- jwksByTrustDomain
}

func (w jwtBundleWatcher) OnJWTBundlesUpdate(set *jwtbundle.Set) {
	jwks := make(jwksByTrustDomain, set.Len())
	for _, b := range set.Bundles() {
		k, err := b.Marshal()
		if err != nil {
			w.log.Warn("the Workload API sent a JWT bundle that does not marshal", "trust_domain", b.TrustDomain().Name(), "error", err)
			continue
		}
		jwks[b.TrustDomain()] = k
	}
	select {
	case w.updates <- jwks:
	case <-w.ctx.Done():
	}
}

func (w jwtBundleWatcher) OnJWTBundlesWatchError(err error) {
	if status.Code(err) != codes.Canceled && !errors.Is(err, context.Canceled) {
		w.log.Warn("watching the Workload API's JWT bundles failed; retrying", "error", err)
	}
}

// svidPicker chooses, among the X.509-SVIDs a Workload API offers, the
// one the agent serves: the first whose ID is a workload's and not the
// control plane's. SPIRE may offer a workload several SVIDs, and the
// agent must never hand the control plane's identity to a workload. It
// keeps what it was last offered, for the error when none qualifies.
type svidPicker struct {
	mu      sync.Mutex
	offered []string
}

// pick is a picker for workloadapi.WithDefaultX509SVIDPicker; it returns
// nil when no SVID qualifies. The X509Source calls it from its own
// goroutine.
func (p *svidPicker) pick(svids []*x509svid.SVID) *x509svid.SVID {
	var picked *x509svid.SVID
	offered := make([]string, 0, len(svids))
	for _, s := range svids {
		offered = append(offered, s.ID.String())
		if picked == nil && servableID(s.ID) {
			picked = s
		}
	}
	p.mu.Lock()
	p.offered = offered
	p.mu.Unlock()
	return picked
}

// lastOffered returns the IDs of the SVIDs pick was last offered.
func (p *svidPicker) lastOffered() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.offered
}

// servableID reports whether the agent may serve an SVID for id: a
// workload ID (spiffe://<td>/ns/<ns>/sa/<sa>), which the control plane's
// is not.
func servableID(id spiffeid.ID) bool {
	_, _, err := spiffe.ParseWorkloadID(id)
	return err == nil
}

// SPIFFEJWTMinter has the SPIFFE Workload API at Socket (a SPIRE agent's)
// sign the workload's JWT-SVIDs, for an agent whose SVIDs come from there.
// Current returns the SPIFFE ID of the X.509-SVID the agent serves; the
// JWT-SVID is asked for that subject, since the Workload API may hold
// SVIDs for other IDs too.
type SPIFFEJWTMinter struct {
	Socket  string
	Current func() spiffeid.ID
}

// MintJWT fetches a JWT-SVID of the current ID for the audiences.
func (s SPIFFEJWTMinter) MintJWT(ctx context.Context, audience []string) (*wire.JWTResponse, error) {
	if len(audience) == 0 {
		return nil, errors.New("a JWT-SVID needs an audience")
	}
	var subject spiffeid.ID
	if s.Current != nil {
		subject = s.Current()
	}
	if subject.IsZero() {
		return nil, errors.New("no SPIFFE ID to fetch a JWT-SVID for: no X.509-SVID is served yet")
	}
	svid, err := workloadapi.FetchJWTSVID(ctx, jwtsvid.Params{Audience: audience[0], ExtraAudiences: audience[1:], Subject: subject},
		workloadapi.WithAddr("unix://"+s.Socket))
	if err != nil {
		return nil, fmt.Errorf("the Workload API at %s: %w", s.Socket, err)
	}
	if svid.ID != subject {
		return nil, fmt.Errorf("the Workload API at %s signed a JWT-SVID for %s, not %s", s.Socket, svid.ID, subject)
	}
	return &wire.JWTResponse{Token: svid.Marshal(), ExpiresAt: svid.Expiry}, nil
}

// takeFromSource publishes the SVID picker chose from src, the roots of
// its trust domain and the JWT keys of that domain in jwks, when any of
// them changed. Without an SVID the agent may serve it publishes nothing.
func (m *Manager) takeFromSource(src *workloadapi.X509Source, picker *svidPicker, jwks jwksByTrustDomain) {
	svid, err := src.GetX509SVID()
	if err != nil {
		m.log.Error("the Workload API offers no X.509-SVID for a workload ID other than the control plane's; serving none",
			"offered", picker.lastOffered(), "error", err)
		return
	}
	td := svid.ID.TrustDomain()
	b, err := src.GetX509BundleForTrustDomain(td)
	if err != nil {
		m.log.Warn("the Workload API has no bundle for the SVID's trust domain", "error", err)
		return
	}
	roots := b.X509Authorities()
	cur := m.Current()
	keys := cur.JWKS
	if cur.ID.TrustDomain() != td {
		keys = nil
	}
	if jwks != nil {
		if k, ok := jwks[td]; ok {
			keys = k
		} else {
			m.log.Warn("the Workload API has no JWT bundle for the SVID's trust domain", "trust_domain", td.Name())
		}
	}
	sameSVID := cur.SVID != nil && cur.ID == svid.ID && sameCerts(cur.SVID.Certificates, svid.Certificates)
	sameRoots := sameCerts(cur.Roots, roots)
	if sameSVID && sameRoots && string(cur.JWKS) == string(keys) {
		return
	}
	if sameSVID {
		svid = cur.SVID // so subscribers that follow only the SVID are not woken
	}
	m.update(func(next *Identity) { next.ID, next.SVID, next.Roots, next.JWKS = svid.ID, svid, roots, keys })
	if sameSVID && sameRoots {
		return
	}
	leaf := svid.Certificates[0]
	fmt.Fprintf(m.cfg.Out, "embassy-agent: took SVID %s serial %x from the Workload API at %s; expires %s\n",
		svid.ID, leaf.SerialNumber, m.cfg.SPIFFESocket, leaf.NotAfter.UTC().Format(time.RFC3339))
}
