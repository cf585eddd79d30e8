package cache

import (
	"embassy.dev/embassy/pkg/mesh"
	"embassy.dev/embassy/xds/translate"
)

// DefaultTranslator returns the Translator backed by the translate
// package, which a Publisher uses when its Options name none.
// Diagnostics are dropped here because the translator's callers that own
// resource status report them; the cache only needs the resources.
func DefaultTranslator() Translator { return translateAdapter{} }

type translateAdapter struct{}

var _ Translator = translateAdapter{}

func (translateAdapter) Outbound(s *mesh.Snapshot) *translate.Resources {
	r, _ := translate.Outbound(s)
	return r
}

func (translateAdapter) ProxylessClient(s *mesh.Snapshot) *translate.Resources {
	r, _ := translate.ProxylessClient(s)
	return r
}

func (translateAdapter) Inbound(s *mesh.Snapshot, p translate.Proxy) *translate.Resources {
	r, _ := translate.Inbound(s, p)
	return r
}

func (translateAdapter) ProxylessServer(s *mesh.Snapshot, p translate.Proxy) *translate.Resources {
	r, _ := translate.ProxylessServer(s, p)
	return r
}

func (translateAdapter) AuthzBundles(s *mesh.Snapshot, p translate.Proxy) *translate.Resources {
	r, _ := translate.AuthzBundles(s, p)
	return r
}
