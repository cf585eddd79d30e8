package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdState is what one etcd read saw: the store's revision and the
// values of the keys asked for, with a commit still being rolled forward
// already laid over them, so that every read sees whole commits only.
type etcdState struct {
	rev int64
	// revMod is the rev key's ModRevision (0 when absent): a commit
	// compares it to know that nothing committed since this read.
	revMod int64
	// intent is the large commit being rolled forward, nil for none;
	// intentMod is its key's ModRevision.
	intent    *etcdIntent
	intentMod int64
	// values holds every present key read, by full key.
	values map[string][]byte
}

// readState reads the keys of ops, the revision and the intent in one
// etcd transaction (one etcd revision), then lays the intent's writes
// over them.
func (e *Etcd) readState(ctx context.Context, op string, ops ...clientv3.Op) (*etcdState, error) {
	all := append(ops, clientv3.OpGet(e.keys.rev()), clientv3.OpGet(e.keys.intent()))
	var resp *clientv3.TxnResponse
	err := e.read(ctx, op, func(ctx context.Context) (err error) {
		resp, err = e.client.Txn(ctx).Then(all...).Commit()
		return err
	})
	if err != nil {
		return nil, err
	}
	st := &etcdState{values: map[string][]byte{}}
	for _, r := range resp.Responses {
		for _, kv := range r.GetResponseRange().GetKvs() {
			st.values[string(kv.Key)] = kv.Value
		}
	}
	if err := st.takeMeta(e.keys, resp); err != nil {
		return nil, err
	}
	if st.intent != nil {
		if err := e.overlay(ctx, op, st, resp.Header.Revision, ops); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// takeMeta moves the rev and intent keys out of st.values into their
// fields.
func (st *etcdState) takeMeta(keys etcdKeys, resp *clientv3.TxnResponse) error {
	n := len(resp.Responses)
	if kvs := resp.Responses[n-2].GetResponseRange().GetKvs(); len(kvs) == 1 {
		rev, err := parseEtcdRev(kvs[0].Value)
		if err != nil {
			return err
		}
		st.rev, st.revMod = rev, kvs[0].ModRevision
	}
	if kvs := resp.Responses[n-1].GetResponseRange().GetKvs(); len(kvs) == 1 {
		var in etcdIntent
		if err := json.Unmarshal(kvs[0].Value, &in); err != nil || in.ID == "" {
			return fmt.Errorf("the etcd key %s is corrupt (%q): restore the store from a backup", keys.intent(), kvs[0].Value)
		}
		st.intent, st.intentMod = &in, kvs[0].ModRevision
	}
	delete(st.values, keys.rev())
	delete(st.values, keys.intent())
	return nil
}

// overlay lays the intent's writes that fall within ops over st.values,
// reading its chunks at the same etcd revision as the rest.
func (e *Etcd) overlay(ctx context.Context, op string, st *etcdState, at int64, ops []clientv3.Op) error {
	writes, err := e.readChunks(ctx, op, st.intent, at)
	if err != nil {
		return err
	}
	for _, w := range writes {
		full := e.keys.prefix + w.K
		if !withinOps(full, ops) {
			continue
		}
		if w.Del {
			delete(st.values, full)
		} else {
			st.values[full] = w.V
		}
	}
	return nil
}

// withinOps reports whether key is one that ops read.
func withinOps(key string, ops []clientv3.Op) bool {
	for _, op := range ops {
		k := string(op.KeyBytes())
		end := string(op.RangeBytes())
		switch {
		case end == "" && key == k:
			return true
		case end != "" && key >= k && key < end:
			return true
		}
	}
	return false
}

// readChunks returns every write of a large commit, in order; at is the
// etcd revision to read at, 0 for the newest.
func (e *Etcd) readChunks(ctx context.Context, op string, in *etcdIntent, at int64) ([]etcdWrite, error) {
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
	if at > 0 {
		opts = append(opts, clientv3.WithRev(at))
	}
	var resp *clientv3.GetResponse
	err := e.read(ctx, op, func(ctx context.Context) (err error) {
		resp, err = e.client.Get(ctx, e.keys.pending(in.ID), opts...)
		return err
	})
	if at > 0 && errors.Is(err, rpctypes.ErrCompacted) {
		// etcd compacted past the intent's revision; the chunks, which
		// only their commit's end deletes, are still there now.
		return e.readChunks(ctx, op, in, 0)
	}
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) != in.Chunks {
		return nil, fmt.Errorf("%s: the commit of revision %d being rolled forward has %d of its %d chunks in etcd: restore the store from a backup",
			op, in.Rev, len(resp.Kvs), in.Chunks)
	}
	var out []etcdWrite
	for _, kv := range resp.Kvs {
		var c []etcdWrite
		if err := json.Unmarshal(kv.Value, &c); err != nil {
			return nil, fmt.Errorf("%s: chunk %s is corrupt (%v): restore the store from a backup", op, kv.Key, err)
		}
		out = append(out, c...)
	}
	return out, nil
}

// readOne returns the value of one key as of the last whole commit, and
// whether it is present (etcd returns an empty value as nil).
func (e *Etcd) readOne(ctx context.Context, op, key string) ([]byte, bool, error) {
	st, err := e.readState(ctx, op, clientv3.OpGet(key))
	if err != nil {
		return nil, false, err
	}
	e.seen(st.rev)
	v, ok := st.values[key]
	return v, ok, nil
}

// readRev returns the store's revision and the etcd revision it was read
// at, with a linearizable read (so only a quorum answers it).
func (e *Etcd) readRev(ctx context.Context) (rev, at int64, err error) {
	var resp *clientv3.GetResponse
	err = e.read(ctx, "read the revision", func(ctx context.Context) (err error) {
		resp, err = e.client.Get(ctx, e.keys.rev())
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	if len(resp.Kvs) == 1 {
		if rev, err = parseEtcdRev(resp.Kvs[0].Value); err != nil {
			return 0, 0, err
		}
	}
	return rev, resp.Header.Revision, nil
}

// parseEtcdRev reads the rev key's value.
func parseEtcdRev(v []byte) (int64, error) {
	rev, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || rev < 0 {
		return 0, fmt.Errorf("the store's revision in etcd is %q, not a number: restore the store from a backup", v)
	}
	return rev, nil
}

// ensureStoreID reads the prefix's store id, giving it one when it has
// none, in one transaction so that control planes starting together
// agree.
func (e *Etcd) ensureStoreID(ctx context.Context) error {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("make a store id: %w", err)
	}
	key := e.keys.storeID()
	var resp *clientv3.TxnResponse
	err := e.call(ctx, "read the store id", func(ctx context.Context) (err error) {
		resp, err = e.client.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, hex.EncodeToString(raw))).
			Else(clientv3.OpGet(key)).Commit()
		return err
	})
	if err != nil {
		return err
	}
	if resp.Succeeded {
		e.id = hex.EncodeToString(raw)
		return nil
	}
	kvs := resp.Responses[0].GetResponseRange().GetKvs()
	if len(kvs) != 1 || strings.TrimSpace(string(kvs[0].Value)) == "" {
		return fmt.Errorf("the etcd key %s is empty: restore the store from a backup", key)
	}
	e.id = string(kvs[0].Value)
	return nil
}
