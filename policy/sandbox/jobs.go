package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	rbacv3 "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	"github.com/open-policy-agent/opa/v1/util"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
	"embassy.dev/embassy/policy/rbac"
)

// Job kinds a child serves.
const (
	kindCompile = "compile"
	kindDecide  = "decide"
)

// NotEvaluatedNetwork is the reason the control plane and embassyctl give
// for not deciding with a policy that may reach the network.
const NotEvaluatedNetwork = "spec.allowNetwork is set: only the workload's agent evaluates a policy that may reach the network"

type compileJob struct {
	Name string                            `json:"name"`
	Spec *resource.AuthorizationPolicySpec `json:"spec"`
}

// CompileResult is one policy compiled: its problems, or its bundle and
// what partial evaluation made of it.
type CompileResult struct {
	// Errors lists the policy's problems; when set nothing else is.
	Errors compile.Errors `json:"errors,omitempty"`
	// Bundle is the compiled bundle's JSON.
	Bundle json.RawMessage `json:"bundle,omitempty"`
	// Compiled is set when RBAC decides exactly as the policy does, and
	// RBAC then holds the rules (an rbacv3.RBAC in protobuf wire form).
	Compiled bool   `json:"compiled,omitempty"`
	RBAC     []byte `json:"rbac,omitempty"`
	// Reason and Location say, when not Compiled, what kept the policy
	// on ext_authz.
	Reason   string `json:"reason,omitempty"`
	Location string `json:"location,omitempty"`
}

// Rules decodes RBAC; nil when the policy did not compile to RBAC.
func (r *CompileResult) Rules() (*rbacv3.RBAC, error) {
	if !r.Compiled {
		return nil, nil
	}
	out := &rbacv3.RBAC{}
	if err := proto.Unmarshal(r.RBAC, out); err != nil {
		return nil, fmt.Errorf("decoding the compiled RBAC: %v", err)
	}
	return out, nil
}

// Compile compiles spec as compile.Compile does and, unless the policy
// must stay on ext_authz, partially evaluates it to RBAC, all in a child.
// Rego problems come back in CompileResult.Errors; the error is for a
// job that did not finish: a *LimitError, or a failed worker.
func (s *Sandbox) Compile(ctx context.Context, name string, spec *resource.AuthorizationPolicySpec) (*CompileResult, error) {
	var out CompileResult
	if err := s.run(ctx, kindCompile, compileJob{Name: name, Spec: spec}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// runCompile is the child's side of Compile.
func runCompile(j compileJob) (*CompileResult, error) {
	if j.Spec == nil {
		return nil, errors.New("compile job without a spec")
	}
	b, err := compile.Compile(j.Name, j.Spec)
	if err != nil {
		var ces compile.Errors
		if errors.As(err, &ces) {
			return &CompileResult{Errors: ces}, nil
		}
		return nil, err
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	out := &CompileResult{Bundle: raw}
	switch {
	case b.FailureMode() == compile.FailureAllow:
		out.Reason = "failureMode is allow: RBAC cannot tell a failed evaluation from a denial, so the agent's ext_authz decides"
	case b.AllowNetwork():
		out.Reason = NotEvaluatedNetwork + ", so its ext_authz decides"
	default:
		r, err := rbac.Compile(b.Modules(), b.Data(), b.Query(), b.RegoVersion())
		if err != nil {
			out.Reason = "partial evaluation failed: " + err.Error()
			return out, nil
		}
		out.Compiled, out.Reason, out.Location = r.Compiled, r.Reason, r.Location
		if r.Compiled {
			if out.RBAC, err = proto.Marshal(r.RBAC); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

type decideJob struct {
	Bundles []*compile.Bundle `json:"bundles"`
	Input   json.RawMessage   `json:"input"`
}

// Decide decides input with each bundle, as the agent's engine would, in
// one child; the decisions are in the bundles' order. A bundle with
// AllowNetwork is not evaluated: its decision fails closed with
// NotEvaluatedNetwork as the reason.
func (s *Sandbox) Decide(ctx context.Context, bundles []*compile.Bundle, input any) ([]engine.Decision, error) {
	raw, err := json.Marshal(input)
	if err != nil {
		return nil, fmt.Errorf("input is not JSON: %v", err)
	}
	var out []engine.Decision
	if err := s.run(ctx, kindDecide, decideJob{Bundles: bundles, Input: raw}, &out); err != nil {
		return nil, err
	}
	if len(out) != len(bundles) {
		return nil, fmt.Errorf("the Rego worker made %d decisions for %d policies", len(out), len(bundles))
	}
	return out, nil
}

// runDecide is the child's side of Decide.
func runDecide(j decideJob) []engine.Decision {
	var input any
	if err := util.UnmarshalJSON(j.Input, &input); err != nil {
		input = nil
	}
	out := make([]engine.Decision, len(j.Bundles))
	for i, b := range j.Bundles {
		out[i] = DecideUnbounded(context.Background(), b, input)
	}
	return out
}

// DecideUnbounded decides input with b in this process, without a memory
// budget: what a child runs, and what embassyctl runs on the operator's
// own machine for offline answers. Like Decide, it never evaluates a
// bundle with AllowNetwork.
func DecideUnbounded(ctx context.Context, b *compile.Bundle, input any) engine.Decision {
	failed := func(reason string) engine.Decision {
		return engine.Decision{
			Policy: b.Name(), Revision: b.Revision(), DryRun: b.Mode() == compile.ModeDryRun,
			Failed: true, Reason: reason, HTTPStatus: 403,
		}
	}
	if b.AllowNetwork() {
		return failed(NotEvaluatedNetwork)
	}
	e := engine.New()
	if err := e.Load(b); err != nil {
		return failed(err.Error())
	}
	d, _ := e.Decide(ctx, input)
	return d
}
