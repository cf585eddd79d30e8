package events

// Refusal is a set of resources the control plane would not serve to some
// proxies, as a refused event and /v1/status report it: who keeps their
// previous set, which served resources are wrong and why, and which
// resources of the mesh produced it.
type Refusal struct {
	// Proxies are the nodes that keep their previous set, sorted.
	Proxies []string `json:"proxies"`
	// Problems are the refused Envoy resources with the reason for each.
	Problems []Problem `json:"problems"`
	// Inputs are the mesh resources (Kind/namespace/name) that changed
	// since revision Since, the last one every proxy was served, up to
	// MaxInputs of them; MoreInputs counts the rest. With Since 0 no
	// revision has been served in full yet, and every resource of the
	// mesh is an input.
	Inputs     []string `json:"inputs"`
	MoreInputs int      `json:"moreInputs,omitempty"`
	Since      int64    `json:"since"`
}

// MaxInputs bounds the inputs a Refusal lists, so a refusal on a large
// mesh's first push stays readable.
const MaxInputs = 20

// Problem is one refused Envoy resource and why.
type Problem struct {
	// Resource is the Envoy resource as "Type name", such as
	// "Cluster outbound|8080||web.default".
	Resource string `json:"resource"`
	// Reason is the check's message: the field path, and for Envoy's
	// load-time rules the rule and the error Envoy would give.
	Reason string `json:"reason"`
}
