package store_test

import (
	"testing"

	"embassy.dev/embassy/pkg/store"
)

func TestMemory(t *testing.T) {
	runConformance(t, func(t *testing.T) store.Store {
		s := store.NewMemory()
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestMemoryKind(t *testing.T) {
	if got := store.NewMemory().Kind(); got != "memory" {
		t.Errorf("Kind = %q, want memory", got)
	}
}
