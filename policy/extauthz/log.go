package extauthz

import (
	"net/url"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"embassy.dev/embassy/policy/engine"
)

// Redacted replaces header values in decision logs.
const Redacted = "[redacted]"

// logDecision writes one structured line per decision: which policy
// revision decided what and why, for which request and caller. Errors log
// at warn so a failing policy stands out.
func (s *Server) logDecision(req *authv3.CheckRequest, d engine.Decision, err error, id string, latency time.Duration) {
	attrs := req.GetAttributes()
	h := attrs.GetRequest().GetHttp()
	fields := []any{
		"policy", d.Policy,
		"revision", d.Revision,
		"decision", d.Outcome(),
		"allowed", d.Permitted(),
		"dry_run", d.DryRun,
		"reason", d.Reason,
		"latency", latency.String(),
		"decision_id", id,
		"request_id", h.GetHeaders()["x-request-id"],
		"principal", attrs.GetSource().GetPrincipal(),
		"method", h.GetMethod(),
		"path", pathOnly(h.GetPath()),
		"headers", s.headersForLog(h.GetHeaders()),
	}
	if !d.Allowed && !d.Failed {
		fields = append(fields, "status", d.HTTPStatus)
	}
	if err != nil {
		fields = append(fields, "error", err.Error())
		s.log.Warn("decision", fields...)
		return
	}
	s.log.Info("decision", fields...)
}

func (s *Server) headersForLog(hs map[string]string) map[string]string {
	out := make(map[string]string, len(hs))
	for k, v := range hs {
		if s.logHeaders[k] {
			out[k] = v
		} else {
			out[k] = Redacted
		}
	}
	return out
}

// pathOnly drops the query string, which can carry credentials as headers
// do.
func pathOnly(p string) string {
	if u, err := url.Parse(p); err == nil {
		return u.Path
	}
	return p
}
