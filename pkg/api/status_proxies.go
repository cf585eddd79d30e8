package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/status"
)

// syncStates are the values ?state= accepts.
var syncStates = []string{status.SyncSynced, status.SyncNacked, status.SyncStale, status.SyncPending, status.SyncNotSent, status.SyncNoWorkload}

// judgedProxies lists the connected proxies with their sync states. An
// agent whose node id names no Workload of the mesh reads NO_WORKLOAD
// where nothing was sent, since the cache sends it nothing on purpose.
func (s *server) judgedProxies(ctx context.Context) ([]status.Proxy, error) {
	if s.o.Proxies == nil {
		return []status.Proxy{}, nil
	}
	// A copy, so filtering never writes into the registry's slice.
	ps := slices.Clone(s.o.Proxies.Proxies())
	snap, err := s.meshSnapshot(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for i := range ps {
		status.Judge(&ps[i], now, s.o.StaleAfter)
		if ps[i].Flavour == dataplane.FlavourAgent && snap.Workload(ps[i].Namespace, ps[i].Workload) == nil {
			status.MarkNoWorkload(&ps[i])
		}
	}
	if ps == nil {
		ps = []status.Proxy{}
	}
	return ps, nil
}

// proxies lists the connected proxies and their per-type xDS state, with
// the ?service=, ?state=, ?limit= and ?continue= filters.
func (s *server) proxies(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ps, err := s.judgedProxies(r.Context())
	if err != nil {
		s.internal(w, "read the mesh", err)
		return
	}
	if st := q.Get("state"); st != "" {
		st = strings.ToUpper(st)
		if !slices.Contains(syncStates, st) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("state=%q: want one of %s", q.Get("state"), strings.Join(syncStates, ", ")))
			return
		}
		ps = slices.DeleteFunc(ps, func(p status.Proxy) bool { return !hasState(p, st) })
	}
	if svc := q.Get("service"); svc != "" {
		snap, err := s.meshSnapshot(r.Context())
		if err != nil {
			s.internal(w, "read the mesh", err)
			return
		}
		backs := workloadsBacking(snap, serviceRef(svc, q.Get("namespace")))
		ps = slices.DeleteFunc(ps, func(p status.Proxy) bool { return !backs[p.Namespace+"/"+p.Workload] })
	}
	page, next, err := paginate(ps, q.Get("limit"), q.Get("continue"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, apiwire.ProxiesResponse{Proxies: page, Continue: next, StaleAfterSeconds: s.o.StaleAfter.Seconds()})
}

// proxy serves one connected proxy.
func (s *server) proxy(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ps, err := s.judgedProxies(r.Context())
	if err != nil {
		s.internal(w, "read the mesh", err)
		return
	}
	for _, p := range ps {
		if p.ID == id {
			writeJSON(w, http.StatusOK, p)
			return
		}
	}
	writeError(w, http.StatusNotFound, notConnectedMsg(id))
}

func notConnectedMsg(id string) string {
	return fmt.Sprintf("proxy %q is not connected: list the connected proxies with GET /v1/proxies (embassyctl proxy-status)", id)
}

// hasState reports whether any type of p is in state st.
func hasState(p status.Proxy, st string) bool {
	for _, ts := range p.Types {
		if ts.SyncState == st {
			return true
		}
	}
	return false
}

// serviceRef reads "name", "name.namespace" or name with ?namespace=.
func serviceRef(svc, ns string) mesh.ServiceRef {
	if name, n, ok := strings.Cut(svc, "."); ok && ns == "" {
		return mesh.ServiceRef{Name: name, Namespace: n}
	}
	if ns == "" {
		ns = resource.DefaultNamespace
	}
	return mesh.ServiceRef{Name: svc, Namespace: ns}
}

// workloadsBacking returns "namespace/workload" of every workload that is
// an endpoint of ref.
func workloadsBacking(snap *mesh.Snapshot, ref mesh.ServiceRef) map[string]bool {
	out := map[string]bool{}
	if svc := snap.Service(ref); svc != nil {
		for _, ep := range svc.Endpoints {
			if ep.Workload != "" {
				out[ref.Namespace+"/"+ep.Workload] = true
			}
		}
	}
	return out
}

// paginate cuts a page from proxies sorted by ID. The continue token is
// the last ID served, encoded, so a page stays right while proxies come
// and go.
func paginate(ps []status.Proxy, limitParam, cont string) ([]status.Proxy, string, error) {
	slices.SortFunc(ps, func(a, b status.Proxy) int { return strings.Compare(a.ID, b.ID) })
	if cont != "" {
		after, err := base64.RawURLEncoding.DecodeString(cont)
		if err != nil {
			return nil, "", fmt.Errorf("continue=%q is not a token from a previous page: pass the \"continue\" value of the last response as it was", cont)
		}
		i, _ := slices.BinarySearchFunc(ps, string(after), func(p status.Proxy, id string) int { return strings.Compare(p.ID, id) })
		for i < len(ps) && ps[i].ID <= string(after) {
			i++
		}
		ps = ps[i:]
	}
	if limitParam == "" {
		return ps, "", nil
	}
	limit, err := strconv.Atoi(limitParam)
	if err != nil || limit < 1 || limit > apiwire.MaxProxiesLimit {
		return nil, "", fmt.Errorf("limit=%q: want a whole number from 1 to %d", limitParam, apiwire.MaxProxiesLimit)
	}
	if len(ps) <= limit {
		return ps, "", nil
	}
	page := ps[:limit]
	return page, base64.RawURLEncoding.EncodeToString([]byte(page[limit-1].ID)), nil
}
