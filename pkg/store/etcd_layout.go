package store

import (
	"fmt"
	"strings"

	"embassy.dev/embassy/pkg/resource"
)

// DefaultEtcdPrefix is the key prefix under which an etcd store keeps
// everything, so that one etcd cluster can hold other data beside it.
const DefaultEtcdPrefix = "/embassy/"

// The etcd layout, below the prefix:
//
//	rev               the store's revision, in decimal
//	r/KIND/NS/NAME    a resource's JSON (Key.String() after "r/")
//	s/NAME            a secret
//	meta/store-id     the store's id, as in a bbolt database
//	intent            the commit being rolled forward, if any (see etcd_apply.go)
//	pending/ID/N      chunk N of the large commit ID
//	leases/NAME       a registration lease: the key lives while its etcd lease does
//	live/NAME         a value a control plane publishes for the others, under a lease
const (
	etcdRevKey     = "rev"
	etcdResPrefix  = "r/"
	etcdSecPrefix  = "s/"
	etcdStoreIDKey = "meta/store-id"
	etcdIntentKey  = "intent"
	etcdPendingDir = "pending/"
	etcdLeaseDir   = "leases/"
	etcdLiveDir    = "live/"
)

// etcdKeys turns layout names into full keys under one prefix.
type etcdKeys struct{ prefix string }

// newEtcdKeys checks prefix: it must start and end with a slash, so that
// no other application's keys share it by accident.
func newEtcdKeys(prefix string) (etcdKeys, error) {
	if prefix == "" {
		prefix = DefaultEtcdPrefix
	}
	if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") || strings.Contains(prefix, "//") {
		return etcdKeys{}, fmt.Errorf("--etcd-prefix %q: it must start and end with a slash, like %s", prefix, DefaultEtcdPrefix)
	}
	return etcdKeys{prefix: prefix}, nil
}

func (k etcdKeys) rev() string     { return k.prefix + etcdRevKey }
func (k etcdKeys) intent() string  { return k.prefix + etcdIntentKey }
func (k etcdKeys) storeID() string { return k.prefix + etcdStoreIDKey }
func (k etcdKeys) all() string     { return k.prefix }

// resource is the key of one resource.
func (k etcdKeys) resource(key resource.Key) string {
	return k.prefix + etcdResPrefix + key.String()
}

// resources is the key prefix of every resource of kind, or of all kinds.
func (k etcdKeys) resources(kind resource.Kind) string {
	if kind == "" {
		return k.prefix + etcdResPrefix
	}
	return k.prefix + etcdResPrefix + string(kind) + "/"
}

// secret is the key of one secret.
func (k etcdKeys) secret(name string) string { return k.prefix + etcdSecPrefix + name }

// pending is the prefix of one large commit's chunks, or of all of them
// when id is "".
func (k etcdKeys) pending(id string) string {
	if id == "" {
		return k.prefix + etcdPendingDir
	}
	return k.prefix + etcdPendingDir + id + "/"
}

// chunk is the key of chunk n of the large commit id.
func (k etcdKeys) chunk(id string, n int) string {
	return fmt.Sprintf("%s%06d", k.pending(id), n)
}

// resourceName returns the resource key string of a full key, and whether
// the key is a resource's.
func (k etcdKeys) resourceName(full string) (string, bool) {
	return strings.CutPrefix(full, k.prefix+etcdResPrefix)
}
