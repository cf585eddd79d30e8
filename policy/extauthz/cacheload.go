package extauthz

import (
	"embassy.dev/embassy/policy/compile"
)

// Load makes b the revision that decides, as the engine's Load does, and,
// when the decision cache is on, analyses b first on the caller's
// goroutine, so its Checks are cached from the first one instead of
// going uncached while a background analysis runs (cache.go's forBundle,
// which remains for revisions loaded into the engine directly). On
// failure the previous revision and its cache keep serving.
func (s *Server) Load(b *compile.Bundle) error {
	return s.cache.load(b, func() (*compile.Bundle, error) {
		err := s.engine.Load(b)
		return s.engine.Bundle(), err
	})
}

// load analyses b, then runs load and installs b's cache if load left b
// deciding. It holds c.building throughout, so a Check that sees b
// before its cache is installed starts no second analysis of it.
func (c *decisionCache) load(b *compile.Bundle, load func() (*compile.Bundle, error)) error {
	if c == nil || b == nil {
		_, err := load()
		return err
	}
	c.building.Lock()
	defer c.building.Unlock()
	var rc *revisionCache
	if cur := c.cur.Load(); cur == nil || cur.bundle.Name() != b.Name() || cur.bundle.Revision() != b.Revision() {
		rc = c.newRevisionCache(b)
	}
	deciding, err := load()
	if err == nil && rc != nil && deciding == b {
		c.cur.Store(rc)
	}
	return err
}
