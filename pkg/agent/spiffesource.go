package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	"google.golang.org/protobuf/types/known/timestamppb"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/identity/wire"
	"embassy.dev/embassy/pkg/spiffewatch"
)

// runWorkloadAPISource takes the SVID and bundle from the SPIFFE Workload
// API at cfg.SPIFFESocket (a SPIRE agent's) instead of the control
// plane, and publishes every change through update, like an attestation
// or a rotation. That server owns rotation and expiry: the manager only
// follows it. The JWT keys come from there too, so JWT-SVIDs it signs
// validate. Every change is published from this goroutine, since
// publications must not overlap (see update). It returns when ctx is done.
func (m *Manager) runWorkloadAPISource(ctx context.Context) error {
	w, err := spiffewatch.Start(m.cfg.SPIFFESocket, m.log)
	if err != nil {
		return err
	}
	defer w.Close()
	picker := &svidPicker{}
	var last spiffewatch.State
	for {
		st, changed := w.Watch()
		if st.JWTFailures != last.JWTFailures {
			m.log.Warn("watching the Workload API's JWT bundles failed; retrying", "error", st.JWTErr)
		}
		if st.X509 != nil && (st.X509 != last.X509 || st.JWTBundles != last.JWTBundles) {
			m.takeFromSource(st, picker)
		}
		last = st
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// svidPicker chooses, among the X.509-SVIDs a Workload API offers, the
// one the agent serves: the first whose ID is a workload's and not the
// control plane's. SPIRE may offer a workload several SVIDs, and the
// agent must never hand the control plane's identity to a workload. It
// keeps what it was last offered, for the error when none qualifies.
type svidPicker struct {
	offered []string
}

// pick returns the SVID the agent serves, nil when none qualifies.
func (p *svidPicker) pick(svids []*x509svid.SVID) *x509svid.SVID {
	var picked *x509svid.SVID
	offered := make([]string, 0, len(svids))
	for _, s := range svids {
		offered = append(offered, s.ID.String())
		if picked == nil && servableID(s.ID) {
			picked = s
		}
	}
	p.offered = offered
	return picked
}

// lastOffered returns the IDs of the SVIDs pick was last offered.
func (p *svidPicker) lastOffered() []string { return p.offered }

// servableID reports whether the agent may serve an SVID for id: a
// workload ID (spiffe://<td>/ns/<ns>/sa/<sa>), which the control plane's
// is not.
func servableID(id spiffeid.ID) bool {
	_, _, err := dataplane.ParseWorkloadID(id)
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
	return &wire.JWTResponse{Token: svid.Marshal(), ExpiresAt: timestamppb.New(svid.Expiry)}, nil
}

// takeFromSource publishes the SVID picker chooses from st, the roots of
// its trust domain and the JWT keys of that domain, when any of them
// changed. Without an SVID the agent may serve it publishes nothing.
func (m *Manager) takeFromSource(st spiffewatch.State, picker *svidPicker) {
	svid := picker.pick(st.X509.SVIDs)
	if svid == nil {
		m.log.Error("the Workload API offers no X.509-SVID for a workload ID other than the control plane's; serving none",
			"offered", picker.lastOffered())
		return
	}
	td := svid.ID.TrustDomain()
	b, err := st.X509.Bundles.GetX509BundleForTrustDomain(td)
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
	if st.JWTBundles != nil {
		keys = m.jwksOf(st.JWTBundles, td, keys)
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

// jwksOf returns the JWT keys of td in set as a JSON Web Key Set, or keep
// when set has none for td or they do not marshal.
func (m *Manager) jwksOf(set *jwtbundle.Set, td spiffeid.TrustDomain, keep []byte) []byte {
	b, ok := set.Get(td)
	if !ok {
		m.log.Warn("the Workload API has no JWT bundle for the SVID's trust domain", "trust_domain", td.Name())
		return keep
	}
	k, err := b.Marshal()
	if err != nil {
		m.log.Warn("the Workload API sent a JWT bundle that does not marshal", "trust_domain", td.Name(), "error", err)
		return keep
	}
	return k
}
