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

// SplitNodeID reads an Envoy node id of the form "<workload>.<namespace>".
// It splits at the last dot because namespaces never hold dots while
// workload names may.
func SplitNodeID(id string) (workload, namespace string, err error) {
	i := strings.LastIndexByte(id, '.')
	if i <= 0 || i == len(id)-1 {
		return "", "", fmt.Errorf("node id %q is not <workload>.<namespace>", id)
	}
	return id[:i], id[i+1:], nil
}

func nodeIDParser(t Translator) func(string) (string, string, error) {
	if p, ok := t.(NodeIDParser); ok {
		return p.ParseNodeID
	}
	return SplitNodeID
}
