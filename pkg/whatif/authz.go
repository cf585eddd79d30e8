package whatif

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
	"embassy.dev/embassy/policy/extauthz"
)

// PolicyDecision is what one AuthorizationPolicy decides.
type PolicyDecision struct {
	// Policy is "<ns>/<name>"; Revision the bundle revision that decided.
	Policy   string `json:"policy"`
	Revision string `json:"revision,omitempty"`
	// Mode is enforce or dry-run.
	Mode string `json:"mode"`
	// Outcome is allow, deny, would-deny (dry-run) or error.
	Outcome string `json:"outcome"`
	// Allowed is the verdict as enforce applies it; Permitted whether the
	// request passes this policy (a dry-run policy always lets it pass).
	Allowed   bool `json:"allowed"`
	Permitted bool `json:"permitted"`
	// Reason is the engine's: the rule's verdict or the policy's reason.
	Reason string `json:"reason"`
	// HTTPStatus is the status a denied request gets.
	HTTPStatus int `json:"httpStatus,omitempty"`
	// Workloads are the destination's workloads the policy targets.
	Workloads []string `json:"workloads,omitempty"`
}

// EngineFunc returns the engine that decides for a policy.
type EngineFunc func(*mesh.AuthorizationPolicy) (*engine.Engine, error)

// LocalEngine loads a policy into a fresh engine: the bundle the snapshot
// carries when a compiler ran, else one compiled here, exactly as the
// control plane names and compiles it.
func LocalEngine(p *mesh.AuthorizationPolicy) (*engine.Engine, error) {
	b, err := BundleOf(p)
	if err != nil {
		return nil, err
	}
	e := engine.New()
	if err := e.Load(b); err != nil {
		return nil, err
	}
	return e, nil
}

// BundleOf is the policy's compiled bundle.
func BundleOf(p *mesh.AuthorizationPolicy) (*compile.Bundle, error) {
	if c := p.Compiled; c != nil && len(c.Bundle) > 0 {
		var b compile.Bundle
		if err := json.Unmarshal(c.Bundle, &b); err == nil {
			return &b, nil
		}
	}
	return compile.Compile(p.Namespace+"/"+p.Name, p.Spec)
}

// CheckRequest is the ext_authz request a destination sidecar sends its
// agent for q: the caller's principal from its certificate, the
// destination's, and the HTTP request with its pseudo-headers.
func CheckRequest(q Query, dest Destination, destID string) *authv3.CheckRequest {
	headers := map[string]string{}
	for k, v := range q.Headers {
		headers[strings.ToLower(k)] = v
	}
	headers[":authority"] = dest.Host
	headers[":method"] = q.Method
	headers[":path"] = q.Path
	headers[":scheme"] = "http"
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{Principal: q.From},
		Destination: &authv3.AttributeContext_Peer{
			Principal: destID,
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: dest.Port},
			}}},
		},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: q.Method, Path: q.Path, Host: dest.Host, Scheme: "http", Protocol: "HTTP/1.1",
			Headers: headers, Size: -1,
		}},
	}}
}

// decidePolicy decides one policy with the engine's Decide over the input
// BuildInput makes, as the agent's ext_authz server does.
func decidePolicy(ctx context.Context, get EngineFunc, p *mesh.AuthorizationPolicy, req *authv3.CheckRequest) PolicyDecision {
	out := PolicyDecision{Policy: p.Namespace + "/" + p.Name, Mode: p.Spec.Mode}
	if out.Mode == "" {
		out.Mode = compile.ModeEnforce
	}
	e, err := get(p)
	if err != nil {
		// A policy that cannot load fails closed, as the proxy does.
		out.Outcome, out.Reason, out.HTTPStatus = engine.OutcomeError, err.Error(), 403
		out.Permitted = out.Mode == compile.ModeDryRun
		return out
	}
	input, err := extauthz.BuildInput(req)
	var d engine.Decision
	if err != nil {
		d = engine.Decision{Reason: err.Error(), HTTPStatus: 400, Failed: true}
		if b := e.Bundle(); b != nil {
			d.Policy, d.Revision, d.DryRun = b.Name(), b.Revision(), b.Mode() == compile.ModeDryRun
		}
	} else {
		d, _ = e.Decide(ctx, input)
	}
	out.Revision, out.Allowed, out.Permitted = d.Revision, d.Allowed, d.Permitted()
	out.Outcome, out.Reason, out.HTTPStatus = d.Outcome(), d.Reason, d.HTTPStatus
	if d.DryRun {
		out.Mode = compile.ModeDryRun
	}
	return out
}

// Summary renders an Answer for a terminal.
func (a *Answer) Summary() string {
	var b strings.Builder
	verdict := "ALLOWED"
	if !a.Allowed {
		verdict = "DENIED"
	}
	fmt.Fprintf(&b, "%s  %s (%s) at revision %d\n", verdict, a.Destination.Host, a.Destination.Protocol, a.Revision)
	fmt.Fprintf(&b, "mTLS: %s (required: %t)\n", a.MTLS.Mode, a.MTLS.Required)
	switch r := a.Route; {
	case r == nil && a.Destination.Protocol != "tcp":
		b.WriteString("route: none matches\n")
	case r != nil:
		fmt.Fprintf(&b, "route: %s\n", r.Name)
		switch {
		case r.Redirect != nil:
			b.WriteString("  redirect\n")
		case r.DirectResponse != nil:
			fmt.Fprintf(&b, "  direct response %d\n", r.DirectResponse.Status)
		}
		for _, be := range r.Backends {
			fmt.Fprintf(&b, "  -> %s weight %d (%d endpoints)\n", be.Cluster, be.Weight, be.Endpoints)
		}
	}
	if len(a.Authorization) == 0 {
		b.WriteString("authorization: no policy targets the destination's workloads\n")
	}
	for _, d := range a.Authorization {
		fmt.Fprintf(&b, "policy %s (%s, revision %s): %s: %s\n", d.Policy, d.Mode, d.Revision, d.Outcome, d.Reason)
	}
	reasons := append([]string(nil), a.Reasons...)
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(&b, "why: %s\n", r)
	}
	return b.String()
}
