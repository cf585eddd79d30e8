package agent

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/status"
)

// keeper is the state of keepFresh: the timers of the next renewal and of
// the SVID's expiry, the backoff between failed attempts, and the
// recovery under way, if any.
type keeper struct {
	m       *Manager
	next    *time.Timer  // the next renewal, or the retry of a failed one
	expire  *time.Timer  // the current SVID's NotAfter
	poll    *time.Ticker // the token file, while recovering
	backoff time.Duration
	// resumed is set until the first renewal of an SVID taken from the
	// files of a previous run: a refusal then falls back to the token.
	resumed bool
	rec     *recovery
}

// keepFresh renews the SVID at half its lifetime, retries failures with
// backoff, and withholds the SVID once it expires, until ctx is done. A
// resumed SVID is renewed at once. Once the SVID has expired, or the
// control plane refused to renew it, the manager re-attests with the join
// token as well (see recovery). It returns an error only when the join
// token is refused after the control plane refused a resumed SVID.
func (m *Manager) keepFresh(ctx context.Context, resumed bool) error {
	k := &keeper{
		m: m, resumed: resumed,
		next: time.NewTimer(time.Hour), expire: time.NewTimer(time.Hour), poll: time.NewTicker(m.cfg.MinBackoff),
	}
	k.poll.Stop()
	defer k.next.Stop()
	defer k.expire.Stop()
	defer k.poll.Stop()
	k.follow(m.Current().SVID)
	if resumed {
		k.next.Reset(0)
	}
	bundles := time.NewTicker(m.cfg.BundleInterval)
	defer bundles.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-bundles.C:
			m.refreshBundle(ctx)
		case <-k.expire.C:
			k.expired()
		case <-k.poll.C:
			if k.rec == nil {
				continue
			}
			if svid, roots := m.reattest(ctx, k.rec, true); svid != nil {
				k.publish(ctx, svid, roots, true)
			}
		case <-k.next.C:
			if err := k.attempt(ctx); err != nil {
				return err
			}
		}
	}
}

// follow arms the timers for a new SVID.
func (k *keeper) follow(svid *x509svid.SVID) {
	k.backoff = k.m.cfg.MinBackoff
	k.next.Reset(k.m.renewDelay(svid, time.Now()))
	k.expire.Reset(time.Until(svid.Certificates[0].NotAfter))
}

// expired withholds the SVID once it is past its NotAfter, and starts a
// recovery: the control plane does not renew an expired SVID.
func (k *keeper) expired() {
	s := k.m.Current().SVID
	if s == nil || time.Now().Before(s.Certificates[0].NotAfter) {
		return
	}
	k.m.log.Error("the SVID expired; serving none until a renewal or a re-attestation succeeds", "serial", fmt.Sprintf("%x", s.Certificates[0].SerialNumber))
	fmt.Fprintf(k.m.cfg.Out, "embassy-agent: SVID serial %x expired; withholding it until a renewal or a re-attestation succeeds\n", s.Certificates[0].SerialNumber)
	k.recover(s, nil)
	k.m.update(func(next *Identity) { next.SVID = nil })
}

// recover starts a recovery for svid unless one is under way; refusal is
// the control plane's answer to its renewal, nil when it expired.
func (k *keeper) recover(svid *x509svid.SVID, refusal error) {
	if k.rec != nil {
		return
	}
	k.rec = k.m.startRecovery(svid, refusal)
	k.resumed = false
	if k.m.cfg.TokenFile != "" {
		k.poll.Reset(k.m.cfg.MinBackoff)
	}
}

// attempt renews the SVID. While recovering, a failed renewal is followed
// by a re-attestation with the join token.
func (k *keeper) attempt(ctx context.Context) error {
	svid, roots, err := k.m.renew(ctx)
	if err == nil {
		k.publish(ctx, svid, roots, false)
		return nil
	}
	switch {
	case isRefusal(err) && k.resumed:
		return k.fallBack(ctx, err)
	case isRefusal(err) && k.rec == nil:
		k.recover(k.m.Current().SVID, err)
	case k.rec != nil && k.m.cfg.TokenFile != "":
		// Expected: the re-attestation below is what can succeed.
		k.m.log.Debug("renewing the SVID failed", "error", err)
	default:
		k.m.log.Warn("renewing the SVID failed; retrying", "error", err, "in", k.backoff)
	}
	if k.rec != nil {
		if svid, roots := k.m.reattest(ctx, k.rec, false); svid != nil {
			k.publish(ctx, svid, roots, true)
			return nil
		}
	}
	k.next.Reset(k.backoff)
	k.backoff = min(k.backoff*2, k.m.cfg.MaxBackoff)
	return nil
}

// publish serves a renewed (or, with reattested, a re-attested) SVID and
// ends any recovery.
func (k *keeper) publish(ctx context.Context, svid *x509svid.SVID, roots []*x509.Certificate, reattested bool) {
	m := k.m
	leaf := svid.Certificates[0]
	expires := leaf.NotAfter.UTC().Format(time.RFC3339)
	if reattested {
		m.log.Info("re-attested", "spiffe_id", svid.ID.String(), "serial", fmt.Sprintf("%x", leaf.SerialNumber), "token_file", m.cfg.TokenFile)
		fmt.Fprintf(m.cfg.Out, "embassy-agent: re-attested as %s; SVID serial %x expires %s\n", svid.ID, leaf.SerialNumber, expires)
	} else {
		fmt.Fprintf(m.cfg.Out, "embassy-agent: rotated SVID serial %x; expires %s\n", leaf.SerialNumber, expires)
	}
	m.update(func(next *Identity) { next.ID, next.SVID, next.Roots = svid.ID, svid, roots })
	k.rec, k.resumed = nil, false
	k.poll.Stop()
	k.follow(svid)
	// A resumed SVID came without the JWT keys, and while the SVID could
	// not be renewed, neither could the bundle be fetched.
	if reattested || len(m.Current().JWKS) == 0 {
		m.refreshBundle(ctx)
	}
}

// fallBack attests with the join token after the control plane refused to
// renew the SVID resumed from the files of a previous run (one signed by a
// CA it no longer trusts, say). A refused token ends Run, as at a first
// start; the resumed SVID is served meanwhile.
func (k *keeper) fallBack(ctx context.Context, refusal error) error {
	m := k.m
	m.log.Warn("the control plane refused to renew the SVID resumed from the PEM files; attesting with the join token", "dir", m.cfg.ResumeDir, "error", refusal)
	fmt.Fprintf(m.cfg.Out, "embassy-agent: the control plane refused to renew the SVID resumed from %s (%s); attesting with the join token\n",
		m.cfg.ResumeDir, status.Convert(refusal).Message())
	if err := m.attestAndPublish(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	k.resumed = false
	k.follow(m.Current().SVID)
	return nil
}
