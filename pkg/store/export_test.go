package store

// SharedDecodes is how many stored values s's ListShared has decoded, for
// tests that prove it decodes only what changed.
func SharedDecodes(s Store) int {
	switch s := s.(type) {
	case *Memory:
		return s.shared.decodes()
	case *Bolt:
		return s.shared.decodes()
	case *Etcd:
		return s.shared.decodes()
	}
	panic("SharedDecodes: unknown store type")
}
