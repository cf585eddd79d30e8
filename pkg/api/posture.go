package api

import (
	"net/http"
	"time"

	"embassy.dev/embassy/pkg/posture"
)

// posture answers GET /v1/posture: the security audit of the mesh as it
// runs now, over the snapshot, tokens, roots, certificates and proxies.
func (s *server) posture(w http.ResponseWriter, r *http.Request) {
	snap, err := s.meshSnapshot(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	in := posture.Inputs{
		Now:            time.Now(),
		Mesh:           snap,
		Roots:          s.roots(),
		StaleAfter:     s.o.StaleAfter,
		InsecureXDS:    s.o.InsecureXDS,
		AnonymousReads: s.o.AnonymousReads,
	}
	if s.o.Rego != nil {
		// Without a sandbox (tests) the audit decides in this process.
		in.Decide = s.decide
	}
	if s.o.Tokens != nil {
		in.Tokens = s.o.Tokens.List()
	}
	if s.o.Certificates != nil {
		for _, c := range s.o.Certificates() {
			in.Certificates = append(in.Certificates, posture.Certificate{Workload: c.Workload, SPIFFEID: c.SPIFFEID, IssuedAt: c.IssuedAt, NotAfter: c.NotAfter})
		}
	}
	if s.o.Proxies != nil {
		in.Proxies = s.o.Proxies.Proxies()
	}
	writeJSON(w, http.StatusOK, posture.Audit(in))
}
