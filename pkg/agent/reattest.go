package agent

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"time"

	"embassy.dev/embassy/pkg/dataplane"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// recovery is the state of a re-attestation. The control plane renews
// only over mTLS with a valid SVID of its CA, so once the SVID has expired
// (or a renewal was refused) only a join token brings a new one, and the
// token the agent attested with may have been single-use. The manager
// reads the token file again at every attempt (without TokenFile it only
// says what to do, and keeps retrying the renewal): a token it has not
// presented yet
// is presented at once, one the control plane could not be reached with
// is presented again with the renewal's backoff, and one the control plane
// refused only after MaxBackoff, so a stale token file does not hammer the
// control plane. The SVID must be for the SPIFFE ID the agent had.
type recovery struct {
	want spiffeid.ID
	// presented is the SHA-256 of the token last presented: the token
	// itself is not kept. refused says the control plane (or the ID
	// check) refused it, at refusedAt.
	presented [sha256.Size]byte
	refused   bool
	refusedAt time.Time
	// readErr is the last failure to read the token, logged once.
	readErr string
}

// startRecovery tells the operator, once, that svid cannot be renewed and
// how to give the agent a new token; refusal is the control plane's
// answer to the renewal, nil when svid expired.
func (m *Manager) startRecovery(svid *x509svid.SVID, refusal error) *recovery {
	leaf := svid.Certificates[0]
	at := leaf.NotAfter.UTC().Format(time.RFC3339)
	what := fmt.Sprintf("SVID serial %x expired at %s and cannot be renewed", leaf.SerialNumber, at)
	if refusal != nil {
		what = fmt.Sprintf("the control plane refused to renew SVID serial %x, which expires at %s (%s)",
			leaf.SerialNumber, at, status.Convert(refusal).Message())
	}
	fix := m.newTokenHint(svid.ID)
	m.log.Error(what+"; "+fix, "serial", fmt.Sprintf("%x", leaf.SerialNumber), "not_after", at, "token_file", m.cfg.TokenFile)
	fmt.Fprintf(m.cfg.Out, "embassy-agent: %s; %s\n", what, fix)
	return &recovery{want: svid.ID}
}

// newTokenHint tells the operator how to give the agent a token for id.
func (m *Manager) newTokenHint(id spiffeid.ID) string {
	create := "embassyctl token create --namespace NS --service-account SA"
	if ns, sa, err := dataplane.ParseWorkloadID(id); err == nil {
		create = fmt.Sprintf("embassyctl token create --namespace %s --service-account %s", ns, sa)
	}
	if m.cfg.Workload != "" {
		create += " --workload " + m.cfg.Workload
	}
	if m.cfg.TokenFile == "" {
		return fmt.Sprintf("restart the agent with a new join token (%s)", create)
	}
	return fmt.Sprintf("write a new join token to %s (%s > %s) and the agent re-attests", m.cfg.TokenFile, create, m.cfg.TokenFile)
}

// reattest presents the join token, unless the rules of recovery say to
// wait; with onlyNew it presents only a token it has not presented yet.
// It returns the new SVID and roots, or nil.
func (m *Manager) reattest(ctx context.Context, r *recovery, onlyNew bool) (*x509svid.SVID, []*x509.Certificate) {
	if m.cfg.TokenFile == "" {
		return nil, nil
	}
	token, err := m.token()
	if err != nil {
		if msg := err.Error(); msg != r.readErr {
			m.log.Warn("cannot read the join token to re-attest with", "error", err)
			r.readErr = msg
		}
		return nil, nil
	}
	r.readErr = ""
	sum := sha256.Sum256([]byte(token))
	seen := sum == r.presented
	if seen && (onlyNew || r.refused && time.Since(r.refusedAt) < m.cfg.MaxBackoff) {
		return nil, nil
	}
	r.presented, r.refused = sum, false
	svid, roots, err := m.attestWith(ctx, token)
	switch {
	case err == nil && svid.ID != r.want:
		r.refused, r.refusedAt = true, time.Now()
		m.log.Error("refused the SVID of a re-attestation: it is for another SPIFFE ID", "got", svid.ID.String(), "want", r.want.String(), "token_file", m.cfg.TokenFile)
		if !seen {
			fmt.Fprintf(m.cfg.Out, "embassy-agent: the join token is for %s, not for %s, the identity of this agent; refused the SVID it brought: %s\n",
				svid.ID, r.want, m.newTokenHint(r.want))
		}
		return nil, nil
	case err == nil:
		return svid, roots
	case isRefusal(err) || status.Code(err) == codes.InvalidArgument:
		r.refused, r.refusedAt = true, time.Now()
		m.log.Warn("re-attestation refused; waiting for a new join token", "token_file", m.cfg.TokenFile, "error", err)
	default:
		m.log.Warn("re-attesting failed; retrying", "error", err)
	}
	return nil, nil
}
