package discovery

import (
	"fmt"
	"slices"
	"strings"

	"embassy.dev/embassy/pkg/resource"
)

// Overlay returns stored with the cluster's resources added, and the
// problems of those left out: each discovered resource that fails
// validation, and each that an applied resource of the same kind,
// namespace and name shadows. It changes nothing, so the control plane
// calls it both to publish and to check an apply's references.
func (s *Source) Overlay(stored []*resource.Resource) (merged []*resource.Resource, problems []string) {
	discovered, problems := s.Resources()
	merged, more := overlay(stored, discovered)
	return merged, append(problems, more...)
}

// overlay lays discovered over stored. An applied resource wins over a
// discovered one of the same key: the operator wrote it on purpose (or
// an agent registered it), and serving a blend of the two would be
// neither. The loser is reported, never merged.
func overlay(stored, discovered []*resource.Resource) ([]*resource.Resource, []string) {
	have := make(map[resource.Key]bool, len(stored))
	for _, r := range stored {
		have[r.Key()] = true
	}
	merged := slices.Clip(stored)
	var problems []string
	for _, r := range discovered {
		k := r.Key()
		if have[k] {
			problems = append(problems, fmt.Sprintf("%s from Kubernetes conflicts with the %s applied with embassyctl, which is served instead: delete one of the two (embassyctl delete %s %s -n %s)",
				k, strings.ToLower(string(k.Kind)), strings.ToLower(string(k.Kind)), k.Name, k.Namespace))
			continue
		}
		if err := resource.Validate(r); err != nil {
			problems = append(problems, fmt.Sprintf("%s from Kubernetes is not served: %v", k, err))
			continue
		}
		merged = append(merged, r)
	}
	return merged, problems
}

// sortResources orders resources by kind, namespace and name.
func sortResources(rs []*resource.Resource) {
	slices.SortFunc(rs, func(a, b *resource.Resource) int {
		ka, kb := a.Key(), b.Key()
		return strings.Compare(string(ka.Kind)+"/"+ka.Namespace+"/"+ka.Name, string(kb.Kind)+"/"+kb.Namespace+"/"+kb.Name)
	})
}
