package resource

// LabelsMatch reports whether labels carry every pair of selector, the one
// reading of a label selector (a Route backend's or mirror's subset, an
// AuthorizationPolicy's matchLabels) that validation, the model, the
// translator and what-if share. A selector's key must be present with
// exactly its value: {version: ""} selects what carries version with an
// empty value, never what lacks the label, as Kubernetes reads matchLabels.
// An empty selector matches everything.
func LabelsMatch(labels, selector map[string]string) bool {
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}
