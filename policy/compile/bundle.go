package compile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/util"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/jwt"
)

// Modes and failure modes of a Bundle.
const (
	ModeEnforce = resource.PolicyEnforce
	ModeDryRun  = resource.PolicyDryRun

	FailureDeny  = resource.FailureDeny
	FailureAllow = resource.FailureAllow

	RegoV0 = "v0"
	RegoV1 = "v1"
)

// Bundle is a compiled, immutable AuthorizationPolicy: what the control
// plane distributes and what an agent loads. Its fields are only read
// through methods so a Bundle handed to several engines cannot change
// under one of them. It marshals to JSON for the wire and refuses, when
// unmarshalled, any content that does not match its revision.
type Bundle struct {
	w wire
	// jwt verifies end-user tokens with w.JWTProviders; nil without any.
	jwt *jwt.Verifier
}

// wire is the JSON form of a Bundle. Data is canonical JSON (sorted keys,
// numbers as written), so equal content always hashes to one revision.
type wire struct {
	Name        string                `json:"name"`
	Revision    string                `json:"revision"`
	Modules     []resource.RegoModule `json:"modules"`
	Data        json.RawMessage       `json:"data"`
	Query       string                `json:"query"`
	Mode        string                `json:"mode"`
	FailureMode string                `json:"failureMode"`
	RegoVersion string                `json:"regoVersion"`
	// JWTProviders carry their key sets resolved (fetched by the control
	// plane when the policy names a URL), so a key change is a new
	// revision and agents never fetch.
	JWTProviders []jwt.Provider `json:"jwtProviders,omitempty"`
	// AllowNetwork lets the policy call NetworkBuiltins.
	AllowNetwork bool `json:"allowNetwork,omitempty"`
}

// Name is the policy's name (namespace/name as the control plane chose).
func (b *Bundle) Name() string { return b.w.Name }

// Revision is a content hash of modules, data, query, mode, failure mode
// and Rego version: two bundles with one revision decide alike. It is the
// first 8 bytes, in hex, of the SHA-256 of the bundle's JSON with sorted
// keys and without name and revision.
func (b *Bundle) Revision() string { return b.w.Revision }

// Query is the Rego query whose value is the decision.
func (b *Bundle) Query() string { return b.w.Query }

// Mode is ModeEnforce or ModeDryRun.
func (b *Bundle) Mode() string { return b.w.Mode }

// FailureMode is FailureDeny or FailureAllow: what a request gets when
// evaluation fails or the decision is undefined.
func (b *Bundle) FailureMode() string { return b.w.FailureMode }

// RegoVersion is RegoV1 or RegoV0.
func (b *Bundle) RegoVersion() string { return b.w.RegoVersion }

// AllowNetwork reports whether the policy may call NetworkBuiltins
// (spec.allowNetwork). Only an agent evaluates such a policy: the control
// plane neither partially evaluates it to RBAC nor decides with it.
func (b *Bundle) AllowNetwork() bool { return b.w.AllowNetwork }

// JWTProviders returns a copy of the end-user token providers, with their
// key sets resolved.
func (b *Bundle) JWTProviders() []jwt.Provider {
	out := make([]jwt.Provider, len(b.w.JWTProviders))
	for i, p := range b.w.JWTProviders {
		p.Audiences = append([]string(nil), p.Audiences...)
		out[i] = p
	}
	return out
}

// JWTVerifier checks end-user tokens against the bundle's providers; it
// is nil when the bundle has none.
func (b *Bundle) JWTVerifier() *jwt.Verifier { return b.jwt }

// Modules returns a copy of the Rego sources.
func (b *Bundle) Modules() []resource.RegoModule {
	return append([]resource.RegoModule(nil), b.w.Modules...)
}

// Data returns a copy of the canonical JSON document mounted at data.
func (b *Bundle) Data() json.RawMessage {
	return append(json.RawMessage(nil), b.w.Data...)
}

// MarshalJSON encodes the bundle for distribution.
func (b *Bundle) MarshalJSON() ([]byte, error) { return json.Marshal(b.w) }

// UnmarshalJSON decodes a distributed bundle and checks that its content
// hashes to the revision it claims.
func (b *Bundle) UnmarshalJSON(raw []byte) error {
	var w wire
	if err := json.Unmarshal(raw, &w); err != nil {
		return err
	}
	if w.Data == nil {
		w.Data = json.RawMessage("{}")
	}
	data, err := canonicalData(w.Data)
	if err != nil {
		return err
	}
	w.Data = data
	if got := revision(w); got != w.Revision {
		return fmt.Errorf("bundle %q: content hashes to revision %s, not %s", w.Name, got, w.Revision)
	}
	v, err := verifier(w.JWTProviders)
	if err != nil {
		return fmt.Errorf("bundle %q: %v", w.Name, err)
	}
	b.w, b.jwt = w, v
	return nil
}

// Prepare compiles the bundle into a query ready for evaluation. Agents call
// it on every bundle they receive; the control plane called it at apply.
func (b *Bundle) Prepare() (rego.PreparedEvalQuery, error) {
	var doc map[string]any
	if err := util.UnmarshalJSON(b.w.Data, &doc); err != nil {
		return rego.PreparedEvalQuery{}, Errors{{File: "data", Code: CodeData, Message: err.Error()}}
	}
	opts := []func(*rego.Rego){
		rego.Query(b.w.Query),
		rego.Store(inmem.NewFromObjectWithOpts(doc, inmem.OptRoundTripOnWrite(false))),
		rego.SetRegoVersion(regoVersion(b.w.RegoVersion)),
		rego.Capabilities(capabilities(b.w.AllowNetwork)),
	}
	for _, m := range b.w.Modules {
		opts = append(opts, rego.Module(m.Name, m.Rego))
	}
	pq, err := rego.New(opts...).PrepareForEval(context.Background())
	if err != nil {
		return rego.PreparedEvalQuery{}, fromOPA(err)
	}
	return pq, nil
}

// revision hashes everything that changes a decision: the first 8 bytes,
// in hex, of the SHA-256 of the bundle's JSON without name and revision,
// keys sorted.
func revision(w wire) string {
	content := map[string]any{
		"modules":     w.Modules,
		"data":        w.Data,
		"query":       w.Query,
		"mode":        w.Mode,
		"failureMode": w.FailureMode,
		"regoVersion": w.RegoVersion,
	}
	// Only present when set, so the revisions of policies without
	// providers are what they always were.
	if len(w.JWTProviders) > 0 {
		content["jwtProviders"] = w.JWTProviders
	}
	if w.AllowNetwork {
		content["allowNetwork"] = true
	}
	raw, err := json.Marshal(content)
	if err != nil {
		// Only strings and canonical JSON are marshalled; this cannot fail.
		panic(err)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8])
}

// canonicalData checks that raw is a JSON object and rewrites it with
// sorted keys and no insignificant space, keeping numbers as written.
func canonicalData(raw json.RawMessage) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return json.RawMessage("{}"), nil
	}
	var doc any
	if err := util.UnmarshalJSON(trimmed, &doc); err != nil {
		return nil, fmt.Errorf("data is not JSON: %v", err)
	}
	if _, ok := doc.(map[string]any); !ok {
		return nil, fmt.Errorf("data must be a JSON object, got %s", jsonKind(doc))
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

func regoVersion(v string) ast.RegoVersion {
	if v == RegoV0 {
		return ast.RegoV0
	}
	return ast.RegoV1
}
