package cache

import (
	"fmt"
	"strings"
)

// NodeIDParser is implemented by a Translator that owns the rule for
// reading "<workload>.<namespace>" node ids. The publisher prefers it over
// SplitNodeID so that the translator and the cache never disagree.
type NodeIDParser interface {
	ParseNodeID(id string) (workload, namespace string, err error)
}

// SplitNodeID reads an Envoy node id of the form "<workload>.<namespace>"
// for translators that do not implement NodeIDParser. Like the translate
// package it splits at the first dot, since workload names are DNS labels.
func SplitNodeID(id string) (workload, namespace string, err error) {
	workload, namespace, ok := strings.Cut(id, ".")
	if !ok || workload == "" || namespace == "" {
		return "", "", fmt.Errorf("node id %q is not <workload>.<namespace>", id)
	}
	return workload, namespace, nil
}

func nodeIDParser(t Translator) func(string) (string, string, error) {
	if p, ok := t.(NodeIDParser); ok {
		return p.ParseNodeID
	}
	return SplitNodeID
}
