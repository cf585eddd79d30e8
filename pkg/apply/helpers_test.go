package apply

import (
	"context"
	"testing"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// decode decodes YAML documents or fails the test.
func decode(t *testing.T, file, yaml string) []*resource.Resource {
	t.Helper()
	rs, err := resource.Decode(file, []byte(yaml))
	if err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
	return rs
}

// actions maps each result item's key string to its action.
func actions(res *Result) map[string]Action {
	m := make(map[string]Action, len(res.Items))
	for _, it := range res.Items {
		m[it.Key.String()] = it.Action
	}
	return m
}

// storedCount returns how many resources st holds.
func storedCount(t *testing.T, st store.Store) int {
	t.Helper()
	rs, _, err := st.List(context.Background(), "")
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	return len(rs)
}
