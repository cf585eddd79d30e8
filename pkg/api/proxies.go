package api

import (
	"net/http"

	"embassy.dev/embassy/pkg/status"
)

// ProxiesResponse is the body of GET /v1/proxies.
type ProxiesResponse struct {
	Proxies []status.Proxy `json:"proxies"`
}

// proxies lists the connected proxies and their per-type xDS state.
func (s *server) proxies(w http.ResponseWriter, _ *http.Request) {
	out := ProxiesResponse{Proxies: []status.Proxy{}}
	if s.o.Proxies != nil {
		if ps := s.o.Proxies.Proxies(); ps != nil {
			out.Proxies = ps
		}
	}
	writeJSON(w, http.StatusOK, out)
}
