// Package crd makes the CustomResourceDefinitions of the Embassy kinds an
// operator writes on Kubernetes (Mesh, Route, TrafficPolicy,
// AuthorizationPolicy), with OpenAPI schemas generated from the Go spec
// types of pkg/resource, so the two cannot drift. Services and Workloads
// come from the cluster itself. deploy/kubernetes/crds.yaml is its output;
// `go test ./pkg/kube/crd -update` rewrites it.
package crd

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	"embassy.dev/embassy/pkg/resource"
)

// rawJSON is any JSON value (json.RawMessage), kept as it is.
var rawJSON = reflect.TypeOf(json.RawMessage{})

// schema is the OpenAPI v3 schema of a Go type, as its JSON encoding
// reads and writes it.
func schema(t reflect.Type) map[string]any { return schemaIn(t, nil) }

// schemaIn is schema inside the structs of path; a struct that contains
// itself is free-form below its first level, which OpenAPI in a CRD
// cannot express otherwise.
func schemaIn(t reflect.Type, path []reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == rawJSON:
		return map[string]any{"x-kubernetes-preserve-unknown-fields": true}
	case t == reflect.TypeOf(resource.Duration("")):
		return map[string]any{"type": "string", "description": "a Go duration such as 250ms, 5s or 1h"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaIn(t.Elem(), path)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaIn(t.Elem(), path)}
	case reflect.Struct:
		if slices.Contains(path, t) {
			return map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}
		}
		return object(t, append(path, t))
	}
	// Anything else (an interface) is free-form.
	return map[string]any{"x-kubernetes-preserve-unknown-fields": true}
}

// object is a struct's schema: a property per JSON field, embedded
// structs flattened as encoding/json does.
func object(t reflect.Type, path []reflect.Type) map[string]any {
	props := map[string]any{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			for k, v := range object(ft, path)["properties"].(map[string]any) {
				props[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = schemaIn(f.Type, path)
	}
	return map[string]any{"type": "object", "properties": props}
}
