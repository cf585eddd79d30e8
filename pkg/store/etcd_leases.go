package store

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// GrantLease keeps name alive for ttl (rounded up to whole seconds, etcd's
// unit) from now, under a new etcd lease. The lease lives in etcd, not in
// the control plane that granted it: it outlives that control plane's
// death, and any control plane sharing the store sees it until it ends.
// A later grant replaces it; the lease it replaces ends on its own.
func (e *Etcd) GrantLease(ctx context.Context, name string, ttl time.Duration) error {
	return e.putLeased(ctx, e.keys.prefix+etcdLeaseDir+name, nil, ttl)
}

// PublishLive stores value under name among the live values, for ttl
// from now (rounded up to whole seconds) unless published again: what one
// control plane tells the others sharing the store (its proxies), gone
// within ttl of its death.
func (e *Etcd) PublishLive(ctx context.Context, name string, value []byte, ttl time.Duration) error {
	return e.putLeased(ctx, e.keys.prefix+etcdLiveDir+name, value, ttl)
}

// ReadLive returns every live value, by name.
func (e *Etcd) ReadLive(ctx context.Context) (map[string][]byte, error) {
	release, err := e.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	dir := e.keys.prefix + etcdLiveDir
	var resp *clientv3.GetResponse
	if err := e.read(ctx, "read live values", func(ctx context.Context) (err error) {
		resp, err = e.client.Get(ctx, dir, clientv3.WithPrefix())
		return err
	}); err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), dir)] = kv.Value
	}
	return out, nil
}

// putLeased puts key under a new etcd lease of ttl.
func (e *Etcd) putLeased(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	release, err := e.enter()
	if err != nil {
		return err
	}
	defer release()
	secs := max(1, int64(math.Ceil(ttl.Seconds())))
	var lease *clientv3.LeaseGrantResponse
	op := fmt.Sprintf("put %q under a lease", key)
	if err := e.call(ctx, op, func(ctx context.Context) (err error) {
		lease, err = e.client.Grant(ctx, secs)
		return err
	}); err != nil {
		return err
	}
	_, err = e.txn(ctx, op, nil, []clientv3.Op{clientv3.OpPut(key, string(value), clientv3.WithLease(lease.ID))})
	return err
}

// LiveLeases returns the names whose lease has not ended.
func (e *Etcd) LiveLeases(ctx context.Context) (map[string]bool, error) {
	release, err := e.enter()
	if err != nil {
		return nil, err
	}
	defer release()
	dir := e.keys.prefix + etcdLeaseDir
	var resp *clientv3.GetResponse
	if err := e.read(ctx, "list leases", func(ctx context.Context) (err error) {
		resp, err = e.client.Get(ctx, dir, clientv3.WithPrefix(), clientv3.WithKeysOnly())
		return err
	}); err != nil {
		return nil, err
	}
	live := make(map[string]bool, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		live[strings.TrimPrefix(string(kv.Key), dir)] = true
	}
	return live, nil
}

// DropLease ends name's lease at once.
func (e *Etcd) DropLease(ctx context.Context, name string) error {
	release, err := e.enter()
	if err != nil {
		return err
	}
	defer release()
	_, err = e.txn(ctx, fmt.Sprintf("drop lease %q", name), nil, []clientv3.Op{clientv3.OpDelete(e.keys.prefix + etcdLeaseDir + name)})
	return err
}
