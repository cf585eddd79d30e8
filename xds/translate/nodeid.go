package translate

import (
	"fmt"
	"strings"
)

// ParseNodeID splits an Envoy sidecar node id "<workload>.<namespace>".
// Workload names are DNS labels and hold no dot, so the id splits at the
// first dot; an id without one, or with an empty side, is an error.
func ParseNodeID(id string) (workload, namespace string, err error) {
	workload, namespace, ok := strings.Cut(id, ".")
	if !ok || workload == "" || namespace == "" {
		return "", "", fmt.Errorf("node id %q is not <workload>.<namespace>", id)
	}
	return workload, namespace, nil
}
