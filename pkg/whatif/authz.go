package whatif

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
	"embassy.dev/embassy/policy/extauthz"
	"embassy.dev/embassy/policy/sandbox"
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

// DecideFunc decides one input with each bundle, returning the decisions
// in the bundles' order. The error is for a decision that could not be
// made at all (a sandbox limit, say); every policy then fails closed.
type DecideFunc func(ctx context.Context, bundles []*compile.Bundle, input map[string]any) ([]engine.Decision, error)

// LocalDecide decides in this process (sandbox.DecideUnbounded): for
// embassyctl, which runs the operator's own policies on the operator's
// machine. The control plane decides in its Rego sandbox.
func LocalDecide(ctx context.Context, bundles []*compile.Bundle, input map[string]any) ([]engine.Decision, error) {
	out := make([]engine.Decision, len(bundles))
	for i, b := range bundles {
		out[i] = sandbox.DecideUnbounded(ctx, b, input)
	}
	return out, nil
}

// BundleOf is the policy's compiled bundle: the snapshot's when a
// compiler ran (a policy that failed there fails here, with its error),
// else one compiled here, exactly as the control plane names and
// compiles it.
func BundleOf(p *mesh.AuthorizationPolicy) (*compile.Bundle, error) {
	if c := p.Compiled; c != nil {
		if c.Err != "" {
			return nil, errors.New(c.Err)
		}
		var b compile.Bundle
		if err := json.Unmarshal(c.Bundle, &b); err != nil {
			return nil, err
		}
		return &b, nil
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

// decidePolicies decides every policy with decide over the input
// BuildInput makes, as the agents' ext_authz servers do. A policy whose
// bundle cannot be had, or whose decision could not be made, fails
// closed, as the proxy does.
func decidePolicies(ctx context.Context, decide DecideFunc, ps []*mesh.AuthorizationPolicy, req *authv3.CheckRequest) []PolicyDecision {
	out := make([]PolicyDecision, len(ps))
	var bundles []*compile.Bundle
	var at []int
	for i, p := range ps {
		out[i] = PolicyDecision{Policy: p.Namespace + "/" + p.Name, Mode: p.Mode}
		b, err := BundleOf(p)
		if err != nil {
			out[i].failClosed(err.Error())
			continue
		}
		bundles, at = append(bundles, b), append(at, i)
	}
	if len(bundles) == 0 {
		return out
	}
	input, err := extauthz.BuildInput(req)
	status := 400 // a request the proxy could not describe
	var ds []engine.Decision
	if err == nil {
		status = 403
		ds, err = decide(ctx, bundles, input)
	}
	for j, i := range at {
		if err != nil {
			out[i].Revision = bundles[j].Revision()
			out[i].failClosed(err.Error())
			out[i].HTTPStatus = status
			continue
		}
		out[i].fill(ds[j])
	}
	return out
}

// failClosed records a decision that could not be made: it denies, unless
// the policy is in dry-run.
func (d *PolicyDecision) failClosed(reason string) {
	d.Outcome, d.Reason, d.HTTPStatus = engine.OutcomeError, reason, 403
	d.Permitted = d.Mode == compile.ModeDryRun
}

func (d *PolicyDecision) fill(e engine.Decision) {
	d.Revision, d.Allowed, d.Permitted = e.Revision, e.Allowed, e.Permitted()
	d.Outcome, d.Reason, d.HTTPStatus = e.Outcome(), e.Reason, e.HTTPStatus
	if e.DryRun {
		d.Mode = compile.ModeDryRun
	}
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
	if !a.Scope.Sent {
		fmt.Fprintf(&b, "scope: the caller's proxy (Workload %s) is not sent %s\n", a.Scope.Workload, a.Destination.Host)
	}
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
