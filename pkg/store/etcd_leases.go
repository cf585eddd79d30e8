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
	release, err := e.enter()
	if err != nil {
		return err
	}
	defer release()
	secs := max(1, int64(math.Ceil(ttl.Seconds())))
	var lease *clientv3.LeaseGrantResponse
	op := fmt.Sprintf("grant lease %q", name)
	if err := e.call(ctx, op, func(ctx context.Context) (err error) {
		lease, err = e.client.Grant(ctx, secs)
		return err
	}); err != nil {
		return err
	}
	_, err = e.txn(ctx, op, nil, []clientv3.Op{clientv3.OpPut(e.keys.prefix+etcdLeaseDir+name, "", clientv3.WithLease(lease.ID))})
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
