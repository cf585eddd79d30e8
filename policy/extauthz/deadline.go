package extauthz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"embassy.dev/embassy/policy/engine"
)

// DefaultTimeout bounds one Check's evaluation. It is below the 200 ms
// Envoy waits for the agent (the ext_authz filter's timeout set by the
// translator), so a slow policy is answered by the agent's own deny, with
// its reason in the decision log, rather than by Envoy giving up.
const DefaultTimeout = 150 * time.Millisecond

// decide evaluates input under the server's deadline (or the caller's,
// when sooner). OPA checks the context as it evaluates, so a runaway
// policy stops at the deadline instead of holding a goroutine and a core.
func (s *Server) decide(ctx context.Context, input any) (engine.Decision, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	d, err := s.engine.Decide(ctx, input)
	if err != nil && ctx.Err() != nil {
		return cutShort(ctx, d, s.timeout), err
	}
	return d, err
}

// cutShort is the decision of an evaluation the deadline (or the caller)
// stopped: a deny whatever the policy's failure mode, since whoever can
// make a request slow to decide must not thereby make it allowed. A
// dry-run policy still only logs it, as would-deny.
func cutShort(ctx context.Context, d engine.Decision, limit time.Duration) engine.Decision {
	reason := fmt.Sprintf("policy evaluation exceeded its %s deadline: denied (fail closed)", limit)
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		reason = "the caller cancelled the check before the policy decided: denied (fail closed)"
	}
	return engine.Decision{
		Policy: d.Policy, Revision: d.Revision, DryRun: d.DryRun,
		Reason: reason, HTTPStatus: http.StatusForbidden, Body: reason,
	}
}
