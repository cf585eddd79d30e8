package dataplane

import (
	"fmt"
	"strings"

	"embassy.dev/embassy/pkg/resource"
)

// NodeID is the node id of a workload's sidecar, agent or proxyless
// server: "<workload>.<namespace>".
func NodeID(workload, namespace string) string { return workload + "." + namespace }

// ParseNodeID splits a node id "<workload>.<namespace>" into its two
// DNS-1123 labels, as resource names are, or says precisely what is wrong
// with it. It is strict so that every side reads an id the same way: an
// id it refuses names no workload.
func ParseNodeID(id string) (workload, namespace string, err error) {
	parts := strings.Split(id, ".")
	if len(parts) != 2 {
		return "", "", fmt.Errorf("node id %q: expected <workload>.<namespace>, two DNS labels joined by one dot", id)
	}
	for i, what := range []string{"workload", "namespace"} {
		if err := checkLabel(parts[i]); err != nil {
			return "", "", fmt.Errorf("node id %q: %s %w", id, what, err)
		}
	}
	return parts[0], parts[1], nil
}

// checkLabel says why s is not a DNS-1123 label in the words of a node id;
// resource.CheckName decides, so a node id is valid exactly when its two
// labels can name resources.
func checkLabel(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("is empty")
	case len(s) > 63:
		return fmt.Errorf("%q is longer than 63 characters", s)
	case resource.CheckName(s) != nil:
		return fmt.Errorf("%q is not a DNS label (lower-case letters, digits and '-', starting and ending with a letter or digit)", s)
	}
	return nil
}
