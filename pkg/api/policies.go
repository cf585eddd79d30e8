package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"embassy.dev/embassy/pkg/apiwire"
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/pkg/resource"
	estatus "embassy.dev/embassy/pkg/status"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
	"embassy.dev/embassy/policy/rbac"
)

// maxEvalInputBytes bounds the input document of an eval request.
const maxEvalInputBytes = 1 << 20

func evalDecision(d engine.Decision) apiwire.EvalDecision {
	out := apiwire.EvalDecision{Allowed: d.Allowed, Permitted: d.Permitted(), DryRun: d.DryRun, Failed: d.Failed, Reason: d.Reason, Body: d.Body}
	if !d.Permitted() {
		out.HTTPStatus = d.HTTPStatus
	}
	for _, h := range d.Headers {
		if out.Headers == nil {
			out.Headers = map[string]string{}
		}
		out.Headers[h.Key] = h.Value
	}
	return out
}

// policies lists every AuthorizationPolicy with its compiled state.
func (s *server) policies(w http.ResponseWriter, r *http.Request) {
	snap, err := s.meshSnapshot(r.Context())
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "reading the mesh: "+err.Error())
		return
	}
	ns := r.URL.Query().Get("namespace")
	out := apiwire.PoliciesResponse{Revision: snap.Revision, Policies: []apiwire.PolicyStatus{}}
	var decisions map[string]map[string]*apiwire.ProxyDecisions
	if s.o.AuthzReports != nil {
		decisions = policyDecisions(s.o.AuthzReports())
	}
	for _, p := range snap.AuthorizationPolicies {
		if ns != "" && p.Namespace != ns {
			continue
		}
		st := s.policyStatus(snap, p)
		addDecisions(&st, decisions[p.Namespace+"/"+p.Name])
		out.Policies = append(out.Policies, st)
	}
	writeJSON(w, http.StatusOK, out)
}

// compiled is the policy's compiled form: the snapshot's, else the
// configured compiler's, else the bundle alone (no RBAC attempted).
func (s *server) compiled(p *mesh.AuthorizationPolicy) *mesh.AuthzCompiled {
	if p.Compiled != nil {
		return p.Compiled
	}
	if s.o.Authz != nil {
		return s.o.Authz(p)
	}
	b, err := compile.Compile(p.Namespace+"/"+p.Name, p.Spec)
	if err != nil {
		return &mesh.AuthzCompiled{Mode: p.Mode, Err: err.Error()}
	}
	return &mesh.AuthzCompiled{Revision: b.Revision(), Mode: b.Mode(), Reason: "RBAC compilation is not configured on this server"}
}

func (s *server) policyStatus(snap *mesh.Snapshot, p *mesh.AuthorizationPolicy) apiwire.PolicyStatus {
	c := s.compiled(p)
	enf, reason := enforcementOf(p, c)
	st := apiwire.PolicyStatus{
		Name: p.Name, Namespace: p.Namespace, Revision: c.Revision, Compiled: c.Err == "", Error: c.Err,
		Enforcement: enf, Reason: reason, Location: c.Location, Mode: p.Mode, Proxyless: proxylessNote(p, c),
		Targets: p.Spec.Targets, Workloads: []string{}, Proxies: []apiwire.PolicyProxy{},
	}
	targeted := map[string]bool{}
	for _, wl := range snap.Workloads {
		if wl.Namespace == p.Namespace && mesh.Targets(p, wl) {
			st.Workloads = append(st.Workloads, wl.Namespace+"/"+wl.Name)
			targeted[wl.Namespace+"/"+wl.Name] = true
		}
	}
	if s.o.Proxies == nil {
		return st
	}
	listed := map[string]bool{}
	for _, px := range s.o.Proxies.Proxies() {
		ts, asked := px.Types[resourcev3.ExtensionConfigType]
		if !asked || !targeted[px.Namespace+"/"+px.Workload] {
			continue
		}
		pp := apiwire.PolicyProxy{ID: px.ID, VersionAcked: ts.VersionAcked}
		if c.Revision != "" && slices.Contains(strings.Split(ts.VersionAcked, ","), c.Revision) {
			pp.AckedRevision, pp.Current = c.Revision, true
		}
		st.Proxies = append(st.Proxies, pp)
		listed[px.ID] = true
	}
	if st.Enforcement == apiwire.EnforcedByRBAC && st.Mode == compile.ModeEnforce {
		st.Proxies = append(st.Proxies, rbacProxies(s.o.Proxies.Proxies(), targeted, listed)...)
	}
	sort.Slice(st.Proxies, func(i, j int) bool { return st.Proxies[i].ID < st.Proxies[j].ID })
	return st
}

// rbacProxies lists the targeted proxies that enforce an RBAC-compiled
// policy in their own listeners (sidecars and proxyless servers, which ask
// for Listeners), except those already listed by their agent's entry under
// the same node id. Current says the proxy acked the listeners last sent,
// which carry the policy's rules.
func rbacProxies(proxies []estatus.Proxy, targeted, listed map[string]bool) []apiwire.PolicyProxy {
	var out []apiwire.PolicyProxy
	for _, px := range proxies {
		ts, asked := px.Types[resourcev3.ListenerType]
		if !asked || listed[px.ID] || !targeted[px.Namespace+"/"+px.Workload] {
			continue
		}
		listed[px.ID] = true
		out = append(out, apiwire.PolicyProxy{ID: px.ID, VersionAcked: ts.VersionAcked,
			Current: ts.VersionAcked != "" && ts.VersionAcked == ts.VersionSent})
	}
	return out
}

// storedPolicy reads the named AuthorizationPolicy as the model resolves
// it, answering 404 itself. It reads the store rather than the served
// snapshot, so a policy is explained and evaluated as soon as it is
// applied.
func (s *server) storedPolicy(ctx context.Context, w http.ResponseWriter, r *http.Request) (*mesh.AuthorizationPolicy, bool) {
	if s.o.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "no store")
		return nil, false
	}
	key := resource.Key{Kind: resource.KindAuthorizationPolicy, Namespace: r.PathValue("namespace"), Name: r.PathValue("name")}
	res, err := s.o.Store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, key.String()+" does not exist")
		return nil, false
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return nil, false
	}
	snap := mesh.New(0, []*resource.Resource{res})
	if len(snap.AuthorizationPolicies) != 1 {
		writeError(w, http.StatusInternalServerError, key.String()+" holds no AuthorizationPolicy spec")
		return nil, false
	}
	return snap.AuthorizationPolicies[0], true
}

// evalPolicy evaluates the stored policy on an input document, as the
// agent's ext_authz server would.
func (s *server) evalPolicy(w http.ResponseWriter, r *http.Request) {
	p, ok := s.storedPolicy(r.Context(), w, r)
	if !ok {
		return
	}
	var req apiwire.EvalRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxEvalInputBytes))
	dec.UseNumber()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be {\"input\": {...}}: "+err.Error())
		return
	}
	var input any
	if len(req.Input) == 0 {
		writeError(w, http.StatusBadRequest, "input is required: the request document to decide on")
		return
	}
	if err := json.Unmarshal(req.Input, &input); err != nil {
		writeError(w, http.StatusBadRequest, "input is not JSON: "+err.Error())
		return
	}
	if s.o.Rego == nil {
		writeError(w, http.StatusServiceUnavailable, errNoRego.Error())
		return
	}
	name := p.Namespace + "/" + p.Name
	c, err := s.o.Rego.Compile(r.Context(), name, p.Spec)
	if err == nil && len(c.Errors) > 0 {
		err = c.Errors
	}
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "the stored policy does not compile: "+err.Error())
		return
	}
	var b compile.Bundle
	if err := json.Unmarshal(c.Bundle, &b); err != nil {
		writeError(w, http.StatusInternalServerError, "the compiled policy does not load: "+err.Error())
		return
	}
	ds, err := s.o.Rego.Decide(r.Context(), []*compile.Bundle{&b}, input)
	if err != nil {
		writeError(w, http.StatusUnprocessableEntity, "evaluating "+name+": "+err.Error())
		return
	}
	d := ds[0]
	writeJSON(w, http.StatusOK, apiwire.EvalResponse{Policy: name, Revision: b.Revision(), Outcome: d.Outcome(), Decision: evalDecision(d)})
}

// explainPolicy says whether the policy runs as RBAC and, if not, which
// rule and expression keep it on ext_authz.
func (s *server) explainPolicy(w http.ResponseWriter, r *http.Request) {
	p, ok := s.storedPolicy(r.Context(), w, r)
	if !ok {
		return
	}
	c := s.compiled(p)
	enf, reason := enforcementOf(p, c)
	out := apiwire.ExplainResponse{Policy: p.Namespace + "/" + p.Name, Revision: c.Revision, Enforcement: enf, Reason: reason, Location: c.Location}
	switch {
	case c.Err != "":
		out.Text = "does not compile:\n" + c.Err + "\n"
	case c.Compiled:
		rules, _ := c.RBAC.(*rbacv3.RBAC)
		out.Text = rbac.Explain(&rbac.Result{Compiled: true, RBAC: rules})
		if enf != apiwire.EnforcedByRBAC {
			out.Text = "enforced by ext_authz (" + reason + "); enforced, it runs as RBAC:\n" + out.Text
		}
	default:
		out.Text = rbac.Explain(&rbac.Result{Reason: c.Reason, Location: c.Location})
	}
	if p.Mode == mesh.ModeDryRun {
		out.Text += "mode dry-run: the agents' ext_authz evaluates it and counts what it would deny; nothing is denied\n"
	}
	if note := proxylessNote(p, c); note != "" {
		out.Text += note + "\n"
	}
	if d := inputDeps(p, c); d != nil {
		out.Cacheable, out.CacheFields, out.CacheReason = d.Cacheable, d.Fields, d.Reason
		out.Text += cacheText(d)
	}
	writeJSON(w, http.StatusOK, out)
}
