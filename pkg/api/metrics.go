package api

import "net/http"

// metrics serves the Prometheus metrics.
func (s *server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.o.Metrics == nil {
		writeError(w, http.StatusServiceUnavailable, "metrics are not configured on this API")
		return
	}
	s.o.Metrics.ServeHTTP(w, r)
}
