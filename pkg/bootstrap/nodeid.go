package bootstrap

import (
	"fmt"
	"regexp"
	"strings"
)

// dnsLabel is a DNS-1123 label: what resource names must be, so a node id
// built from them can be split back unambiguously at the dot.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ParseEnvoyNodeID splits an Envoy sidecar's node id "<workload>.<namespace>"
// into its two DNS-1123 labels, or says precisely what is wrong with it.
func ParseEnvoyNodeID(id string) (workload, namespace string, err error) {
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

// checkLabel reports why s is not a DNS-1123 label.
func checkLabel(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("is empty")
	case len(s) > 63:
		return fmt.Errorf("%q is longer than 63 characters", s)
	case !dnsLabel.MatchString(s):
		return fmt.Errorf("%q is not a DNS label (lower-case letters, digits and '-', starting and ending with a letter or digit)", s)
	}
	return nil
}
