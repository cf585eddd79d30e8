// Package applytest applies YAML documents to a store the way embassyctl
// apply does, for tests that need a mesh in a store before they start.
// It lives apart from meshtest because pkg/apply's own tests import
// meshtest, and this package imports pkg/apply.
package applytest

import (
	"context"
	"testing"

	"embassy.dev/embassy/pkg/apply"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// Apply decodes doc and applies it to st as one apply, failing the test on
// a document that does not decode or validate.
func Apply(t testing.TB, st store.Store, doc string) {
	t.Helper()
	rs, err := resource.Decode("test.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := apply.New(st).Apply(context.Background(), rs, false); err != nil {
		t.Fatal(err)
	}
}
