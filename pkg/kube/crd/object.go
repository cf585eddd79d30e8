package crd

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"embassy.dev/embassy/pkg/resource"
)

// Decode reads a custom resource (its JSON as the API server holds it)
// as the document embassyctl would read: the API server's own metadata
// (uid, resourceVersion, managedFields, annotations such as kubectl's
// last-applied configuration) is dropped, and the strict decoder of
// pkg/resource does the rest, so its errors are embassyctl's.
func Decode(raw []byte) ([]*resource.Resource, error) {
	var obj struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   metav1.ObjectMeta `json:"metadata"`
		Spec       json.RawMessage   `json:"spec"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return nil, fmt.Errorf("the object does not decode: %w", err)
	}
	doc, err := json.Marshal(map[string]any{
		"apiVersion": obj.APIVersion,
		"kind":       obj.Kind,
		"metadata":   resource.Metadata{Name: obj.Metadata.Name, Namespace: obj.Metadata.Namespace, Labels: obj.Metadata.Labels},
		"spec":       obj.Spec,
	})
	if err != nil {
		return nil, err
	}
	name := obj.Metadata.Name
	if obj.Metadata.Namespace != "" {
		name = obj.Metadata.Namespace + "/" + name
	}
	return resource.Decode(obj.Kind+" "+name, doc)
}
