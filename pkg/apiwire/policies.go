package apiwire

import (
	"encoding/json"
	"time"

	"embassy.dev/embassy/pkg/resource"
)

// Enforcement paths a policy runs on.
const (
	EnforcedByRBAC     = "rbac"
	EnforcedByExtAuthz = "ext_authz"
)

// PolicyStatus is one AuthorizationPolicy as the control plane compiled
// and distributed it.
type PolicyStatus struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Revision is the bundle's content revision ("" when it did not compile).
	Revision string `json:"revision,omitempty"`
	// Compiled is false when the Rego does not compile; Error says why.
	Compiled bool   `json:"compiled"`
	Error    string `json:"error,omitempty"`
	// Enforcement is "rbac" when the policy is enforced and compiled to
	// Envoy RBAC, else "ext_authz" (a dry-run policy always), with Reason
	// and Location saying what kept it there.
	Enforcement string `json:"enforcement"`
	Reason      string `json:"reason,omitempty"`
	Location    string `json:"location,omitempty"`
	// Mode is "enforce" or "dry-run".
	Mode string `json:"mode"`
	// Proxyless, when set, says that proxyless gRPC servers the policy
	// targets deny every call, and why.
	Proxyless string           `json:"proxyless,omitempty"`
	Targets   resource.Targets `json:"targets"`
	// Workloads are the targeted workloads, namespace/name.
	Workloads []string `json:"workloads"`
	// Proxies are the connected nodes of targeted workloads that asked for
	// authorization bundles, with the revision of this policy they ACKed,
	// and the nodes whose agents reported decisions of this policy.
	Proxies []PolicyProxy `json:"proxies"`
	// Decisions sums the decisions the proxies' agents reported.
	Decisions DecisionCounts `json:"decisions"`
}

// PolicyProxy is one targeted node's state for a policy.
type PolicyProxy struct {
	ID string `json:"id"`
	// AckedRevision is this policy's revision when the node's last ACKed
	// ExtensionConfig version holds it, else "". A version lists the
	// node's bundle revisions joined with "," (see xds/cache).
	AckedRevision string `json:"ackedRevision,omitempty"`
	// VersionAcked is the node's last ACKed ExtensionConfig version.
	VersionAcked string `json:"versionAcked,omitempty"`
	// Current is true when the node ACKed the policy's current revision.
	Current bool `json:"current"`
	// Decisions are the node's agent's last report for this policy; nil
	// when it has not reported within the last ten minutes.
	Decisions *ProxyDecisions `json:"decisions,omitempty"`
}

// PoliciesResponse is the body of GET /v1/policies.
type PoliciesResponse struct {
	Revision int64          `json:"revision"`
	Policies []PolicyStatus `json:"policies"`
}

// EvalRequest is the body of POST /v1/policies/{namespace}/{name}/eval.
type EvalRequest struct {
	// Input is the document evaluated as input, in the shape of the
	// ext_authz CheckRequest the agent builds.
	Input json.RawMessage `json:"input"`
}

// EvalResponse is the decision on one input.
type EvalResponse struct {
	Policy   string       `json:"policy"`
	Revision string       `json:"revision"`
	Outcome  string       `json:"outcome"`
	Decision EvalDecision `json:"decision"`
}

// EvalDecision is the ext_authz answer the agent would give.
type EvalDecision struct {
	// Allowed is the verdict as enforce mode applies it; Permitted whether
	// the request passes (a dry-run policy permits what it would deny).
	Allowed   bool   `json:"allowed"`
	Permitted bool   `json:"permitted"`
	DryRun    bool   `json:"dryRun,omitempty"`
	Failed    bool   `json:"failed,omitempty"`
	Reason    string `json:"reason,omitempty"`
	// HTTPStatus and Body make up a denied response.
	HTTPStatus int               `json:"httpStatus,omitempty"`
	Body       string            `json:"body,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`
}

// ExplainResponse says how a policy is enforced.
type ExplainResponse struct {
	Policy      string `json:"policy"`
	Revision    string `json:"revision,omitempty"`
	Enforcement string `json:"enforcement"`
	Reason      string `json:"reason,omitempty"`
	Location    string `json:"location,omitempty"`
	// Cacheable says whether the agent caches the policy's decisions,
	// keyed on the input fields CacheFields; CacheReason says why not.
	Cacheable   bool     `json:"cacheable"`
	CacheFields []string `json:"cacheFields,omitempty"`
	CacheReason string   `json:"cacheReason,omitempty"`
	// Text is the human explanation `embassyctl policy explain` prints.
	Text string `json:"text"`
}

// DecisionCounts counts authorization decisions by outcome. WouldDeny
// counts what a dry-run policy would have denied; Error counts failed
// evaluations and decisions made before a revision loaded.
type DecisionCounts struct {
	Allow     uint64 `json:"allow"`
	Deny      uint64 `json:"deny"`
	WouldDeny uint64 `json:"wouldDeny"`
	Error     uint64 `json:"error"`
}

// Add adds o's counts to c, as the status API sums a policy's reports.
func (c *DecisionCounts) Add(o DecisionCounts) {
	c.Allow += o.Allow
	c.Deny += o.Deny
	c.WouldDeny += o.WouldDeny
	c.Error += o.Error
}

// ProxyDecisions is what one proxy's agent last reported for a policy.
type ProxyDecisions struct {
	// Revision is the revision the agent decided with at the report.
	Revision string `json:"revision"`
	DecisionCounts
	ReportedAt time.Time `json:"reportedAt"`
}
