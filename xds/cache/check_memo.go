package cache

import (
	"strings"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// The checks across a set (validate.Set over own's references, and
// envoyrules.CheckSet) read of the shared base only the content of its
// Listeners, Clusters and scopes (addresses, routes to clusters, static
// endpoints, scope keys) and the names of everything else: references are checked
// from own's resources alone, since the base was checked on its own. A
// push that changes endpoints or routes and no names changes none of
// that, so a shape's result is kept by those inputs (setKey) and a fleet
// of shapes is not checked again, each over the thousands of resources
// it shares, for a change none of them can fail on.

// contentTypes are the types whose base content the checks across a set
// read; of the others they read names only.
var contentTypes = map[resourcev3.Type]bool{resourcev3.ListenerType: true, resourcev3.ClusterType: true, resourcev3.ScopedRouteType: true}

// setKey identifies everything the checks across set read: own's
// content, and of the base under it, per type, its content (Listener,
// Cluster, ScopedRouteConfiguration) or its names (the others).
func setKey(set, own resourceSet) string {
	var b strings.Builder
	b.WriteString(own.key())
	for _, typ := range servedTypes {
		base := baseOf(set, own, typ)
		b.WriteString("\x00")
		switch {
		case base == nil:
		case contentTypes[typ]:
			b.WriteString(base.version)
		default:
			b.WriteString(base.namesPrint())
		}
	}
	return b.String()
}

// baseOf is the part of set's type typ that is not own's: the base a
// layered set is over, a set own does not touch, or nil.
func baseOf(set, own resourceSet, typ resourcev3.Type) *typeSet {
	ts := set[typ]
	switch {
	case ts == nil:
		return nil
	case ts.base != nil:
		return ts.base
	case own[typ] == ts:
		return nil
	}
	return ts
}

// namesPrint is the Fingerprint of the set's own names, worked out once.
func (t *typeSet) namesPrint() string {
	t.printOnce.Do(func() { t.print = Fingerprint(t.ownNames()) })
	return t.print
}

// setResult is the kept result of the checks across a set with key; ok
// is false when there is none.
func (c *checks) setResult(key string) (ok bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	err, ok = c.curSets[key]
	if !ok {
		err, ok = c.prevSets[key]
	}
	if ok {
		c.curSets[key] = err
	}
	return ok, err
}

// keepSet keeps the result of the checks across a set with key.
func (c *checks) keepSet(key string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.curSets[key] = err
}
