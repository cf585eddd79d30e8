package resource

import (
	"bytes"
	"encoding/json"
	"fmt"

	"sigs.k8s.io/yaml"
)

// ToYAML renders resources as multi-document YAML (apiVersion, kind,
// metadata, spec; Origin never serialised), in the order given. Decode
// reads the result back to Equal resources.
func ToYAML(rs []*Resource) ([]byte, error) {
	var out bytes.Buffer
	for i, r := range rs {
		j, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("render %s as YAML: %w", r.Key(), err)
		}
		y, err := yaml.JSONToYAML(j)
		if err != nil {
			return nil, fmt.Errorf("render %s as YAML: %w", r.Key(), err)
		}
		if i > 0 {
			out.WriteString("---\n")
		}
		out.Write(y)
	}
	return out.Bytes(), nil
}
