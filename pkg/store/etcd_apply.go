package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"embassy.dev/embassy/pkg/resource"
)

// How a commit stays atomic in etcd whatever its size.
//
// etcd applies one transaction atomically, but bounds it (--max-txn-ops,
// 128 by default, and --max-request-bytes, 1.5 MiB). A commit that fits
// in one transaction is one transaction: its writes and the revision bump,
// guarded by the rev key's ModRevision as read (so a concurrent commit of
// another control plane makes it retry, never interleave).
//
// A larger commit is written ahead, then made visible in one small step:
//  1. its writes go to immutable chunk keys pending/ID/N (nothing reads
//     them yet);
//  2. one small guarded transaction bumps rev and writes intent, naming
//     ID and the chunk count: this is the commit point;
//  3. the writes are copied to their keys in transactions of at most
//     MaxTxnOps, each guarded by the intent being unchanged, and a last
//     one deletes the intent and the chunks.
//
// Every read lays the intent's chunks over what it read, at the same etcd
// revision, so from step 2 on every reader sees the whole commit and
// before it none of it. A commit that finds an intent finishes it first
// (step 3 is idempotent), so a control plane that dies mid-way leaves
// nothing half-done. Chunks of a writer that died before step 2 are
// deleted once older than orphanChunkAge.

// orphanChunkAge is how old a large commit's chunks must be, with no
// intent naming them, before a later commit deletes them: far longer than
// any writer takes from step 1 to step 2.
const orphanChunkAge = 10 * time.Minute

// commitAttempts bounds the retries of a commit that loses to concurrent
// commits of other control planes.
const commitAttempts = 50

// etcdWrite is one key's new value, or its delete; K is relative to the
// prefix.
type etcdWrite struct {
	K   string `json:"k"`
	V   []byte `json:"v,omitempty"`
	Del bool   `json:"d,omitempty"`
}

// etcdIntent names the large commit being rolled forward.
type etcdIntent struct {
	ID     string `json:"id"`
	Rev    int64  `json:"rev"`
	Chunks int    `json:"chunks"`
}

// Commit applies every op atomically, in one etcd transaction or, when
// they exceed etcd's limits, through the intent above. It returns the
// revision after it; on error nothing is written, except when the error
// wraps ErrUnavailable and etcd was lost mid-request (the commit may then
// have happened: applying the same resources again is safe).
func (e *Etcd) Commit(ctx context.Context, ops []Op) (int64, error) {
	if err := ctx.Err(); err != nil {
		return e.Revision(), err
	}
	enc, err := prepareOps(ops)
	if err != nil {
		return e.Revision(), err
	}
	release, err := e.enter()
	if err != nil {
		return e.Revision(), err
	}
	defer release()
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	for range commitAttempts {
		rev, done, err := e.tryCommit(ctx, enc)
		if err != nil {
			return e.Revision(), err
		}
		if done {
			e.seen(rev)
			return rev, nil
		}
	}
	return e.Revision(), fmt.Errorf("commit: lost %d times in a row to other control planes' commits: apply again", commitAttempts)
}

// tryCommit makes one attempt; done is false when another commit came
// first (or an intent had to be finished) and the caller should retry.
func (e *Etcd) tryCommit(ctx context.Context, enc []encodedOp) (rev int64, done bool, err error) {
	st, err := e.readState(ctx, "commit", e.touched(enc)...)
	if err != nil {
		return 0, false, err
	}
	if st.intent != nil {
		return 0, false, e.rollForward(ctx, st.intent, st.intentMod)
	}
	writes, err := stage(enc, func(k resource.Key) ([]byte, bool) {
		v, ok := st.values[e.keys.resource(k)]
		return v, ok
	})
	if err != nil || len(writes) == 0 {
		return st.rev, err == nil, err
	}
	ws, err := e.etcdWrites(writes)
	if err != nil {
		return 0, false, err
	}
	return e.commitWrites(ctx, st, ws, st.rev+1)
}

// commitWrites writes ws and the revision next, if nothing committed since
// st was read: in one transaction when they fit, else as a large commit.
func (e *Etcd) commitWrites(ctx context.Context, st *etcdState, ws []etcdWrite, next int64) (int64, bool, error) {
	guard := []clientv3.Cmp{
		clientv3.Compare(clientv3.ModRevision(e.keys.rev()), "=", st.revMod),
		clientv3.Compare(clientv3.CreateRevision(e.keys.intent()), "=", 0),
	}
	if len(e.split(ws)) == 1 && len(ws)+1 <= e.cfg.MaxTxnOps {
		ok, err := e.txn(ctx, "commit", guard, append(e.putOps(ws), clientv3.OpPut(e.keys.rev(), strconv.FormatInt(next, 10))))
		return next, ok, err
	}
	return e.commitLarge(ctx, ws, next, guard)
}

// touched is what a commit must read: each key it writes, or every
// resource when that is more keys than one transaction may read.
func (e *Etcd) touched(enc []encodedOp) []clientv3.Op {
	if len(enc)+2 > e.cfg.MaxTxnOps {
		return []clientv3.Op{clientv3.OpGet(e.keys.resources(""), clientv3.WithPrefix())}
	}
	seen := map[resource.Key]bool{}
	var ops []clientv3.Op
	for _, op := range enc {
		if !seen[op.key] {
			seen[op.key] = true
			ops = append(ops, clientv3.OpGet(e.keys.resource(op.key)))
		}
	}
	return ops
}

// etcdWrites turns staged writes into etcd writes, refusing a resource
// too large for any etcd request.
func (e *Etcd) etcdWrites(writes []write) ([]etcdWrite, error) {
	limit := e.chunkBytes()
	out := make([]etcdWrite, 0, len(writes))
	for _, w := range writes {
		if len(w.value) > limit {
			return nil, fmt.Errorf("%s is %d bytes of JSON; the etcd store keeps at most %d per resource (half of etcd's --max-request-bytes, %d): split it",
				w.key, len(w.value), limit, e.cfg.MaxRequestBytes)
		}
		k := strings.TrimPrefix(e.keys.resource(w.key), e.keys.prefix)
		out = append(out, etcdWrite{K: k, V: w.value, Del: w.value == nil})
	}
	return out, nil
}

// chunkBytes is the most value bytes one request carries: half the
// request limit leaves room for keys, base64 in chunks and framing.
func (e *Etcd) chunkBytes() int { return e.cfg.MaxRequestBytes / 2 }

// split cuts writes into groups that each fit one request and one
// transaction.
func (e *Etcd) split(ws []etcdWrite) [][]etcdWrite {
	var out [][]etcdWrite
	var cur []etcdWrite
	size := 0
	for _, w := range ws {
		n := len(w.K) + len(w.V)
		if len(cur) > 0 && (size+n > e.chunkBytes() || len(cur)+2 > e.cfg.MaxTxnOps) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur, size = append(cur, w), size+n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// putOps are the etcd ops of writes.
func (e *Etcd) putOps(ws []etcdWrite) []clientv3.Op {
	ops := make([]clientv3.Op, 0, len(ws))
	for _, w := range ws {
		if w.Del {
			ops = append(ops, clientv3.OpDelete(e.keys.prefix+w.K))
		} else {
			ops = append(ops, clientv3.OpPut(e.keys.prefix+w.K, string(w.V)))
		}
	}
	return ops
}

// txn runs one guarded transaction and says whether its guard held.
func (e *Etcd) txn(ctx context.Context, op string, guard []clientv3.Cmp, then []clientv3.Op) (bool, error) {
	var resp *clientv3.TxnResponse
	err := e.call(ctx, op, func(ctx context.Context) (err error) {
		resp, err = e.client.Txn(ctx).If(guard...).Then(then...).Commit()
		return err
	})
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// commitLarge runs steps 1 to 3 for writes too large for one transaction.
func (e *Etcd) commitLarge(ctx context.Context, ws []etcdWrite, next int64, guard []clientv3.Cmp) (int64, bool, error) {
	in, intentMod, ok, err := e.writeAhead(ctx, ws, next, guard)
	if err != nil || !ok {
		return 0, false, err
	}
	// Committed: a failure from here on is finished by the next commit,
	// and readers already see the whole commit.
	_ = e.rollForward(ctx, in, intentMod)
	e.sweepOrphans(ctx, in.ID)
	return next, true, nil
}

// writeAhead runs steps 1 and 2. Once it returns ok the commit has
// happened: readers see it through the intent (whose ModRevision it
// returns), and whoever comes next rolls it forward.
func (e *Etcd) writeAhead(ctx context.Context, ws []etcdWrite, next int64, guard []clientv3.Cmp) (*etcdIntent, int64, bool, error) {
	in := &etcdIntent{ID: newCommitID(time.Now()), Rev: next}
	for _, c := range e.split(ws) {
		raw, err := json.Marshal(c)
		if err != nil {
			return nil, 0, false, fmt.Errorf("commit: encode a chunk: %w", err)
		}
		if _, err := e.txn(ctx, "commit: write a chunk", nil, []clientv3.Op{clientv3.OpPut(e.keys.chunk(in.ID, in.Chunks), string(raw))}); err != nil {
			e.dropChunks(in.ID)
			return nil, 0, false, err
		}
		in.Chunks++
	}
	raw, err := json.Marshal(in)
	if err != nil {
		return nil, 0, false, fmt.Errorf("commit: encode the intent: %w", err)
	}
	var resp *clientv3.TxnResponse
	err = e.call(ctx, "commit", func(ctx context.Context) (err error) {
		resp, err = e.client.Txn(ctx).If(guard...).
			Then(clientv3.OpPut(e.keys.rev(), strconv.FormatInt(next, 10)), clientv3.OpPut(e.keys.intent(), string(raw))).Commit()
		return err
	})
	if err != nil {
		// The outcome is unknown: the chunks may be the intent's now.
		return nil, 0, false, err
	}
	if !resp.Succeeded {
		e.dropChunks(in.ID)
		return nil, 0, false, nil
	}
	return in, resp.Header.Revision, true, nil
}

// rollForward copies an intent's writes to their keys and then deletes the
// intent and its chunks; every step is guarded by the intent being the
// one read, so that two control planes finishing it together do no harm.
func (e *Etcd) rollForward(ctx context.Context, in *etcdIntent, intentMod int64) error {
	// The chunks were all written before the intent, so they are whole at
	// its revision, even if another control plane finished and deleted
	// them since.
	writes, err := e.readChunks(ctx, "finish the commit of revision "+strconv.FormatInt(in.Rev, 10), in, intentMod)
	if err != nil {
		if e.intentGone(ctx, intentMod) {
			return nil
		}
		return err
	}
	guard := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(e.keys.intent()), "=", intentMod)}
	for _, group := range e.split(writes) {
		ok, err := e.txn(ctx, "finish a commit", guard, e.putOps(group))
		if err != nil || !ok {
			return err
		}
	}
	_, err = e.txn(ctx, "finish a commit", guard, []clientv3.Op{
		clientv3.OpDelete(e.keys.intent()),
		clientv3.OpDelete(e.keys.pending(in.ID), clientv3.WithPrefix()),
	})
	return err
}

// intentGone reports whether the intent of ModRevision intentMod is no
// longer there: another control plane finished it.
func (e *Etcd) intentGone(ctx context.Context, intentMod int64) bool {
	var resp *clientv3.GetResponse
	err := e.read(ctx, "read the intent", func(ctx context.Context) (err error) {
		resp, err = e.client.Get(ctx, e.keys.intent())
		return err
	})
	return err == nil && (len(resp.Kvs) == 0 || resp.Kvs[0].ModRevision != intentMod)
}

// newCommitID names a large commit: its start time first, so that orphans
// can be aged, then randomness, so that writers never collide.
func newCommitID(now time.Time) string {
	raw := make([]byte, 6)
	_, _ = rand.Read(raw)
	return fmt.Sprintf("%016x-%s", now.UnixNano(), hex.EncodeToString(raw))
}

// commitIDTime is when the commit id was made; false for a foreign name.
func commitIDTime(id string) (time.Time, bool) {
	ts, _, ok := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ts, 16, 64)
	if !ok || err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n), true
}

// dropChunks deletes the chunks of a commit that did not happen, on a
// fresh context: the caller's may be what ended it.
func (e *Etcd) dropChunks(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.RequestTimeout)
	defer cancel()
	_, _ = e.client.Delete(ctx, e.keys.pending(id), clientv3.WithPrefix())
}

// sweepOrphans deletes chunks older than orphanChunkAge that no intent
// names (their writer died before its commit point). Best effort: an
// orphan left now is swept by a later large commit.
func (e *Etcd) sweepOrphans(ctx context.Context, current string) {
	var resp *clientv3.TxnResponse
	err := e.read(ctx, "sweep", func(ctx context.Context) (err error) {
		resp, err = e.client.Txn(ctx).Then(
			clientv3.OpGet(e.keys.pending(""), clientv3.WithPrefix(), clientv3.WithKeysOnly()),
			clientv3.OpGet(e.keys.intent())).Commit()
		return err
	})
	if err != nil {
		return
	}
	// The intent read decides: chunks are dropped only while it is still
	// that intent (or none), so a live commit's chunks are never swept.
	var live etcdIntent
	var liveMod int64
	if kvs := resp.Responses[1].GetResponseRange().GetKvs(); len(kvs) == 1 {
		_ = json.Unmarshal(kvs[0].Value, &live)
		liveMod = kvs[0].ModRevision
	}
	done := map[string]bool{current: true, live.ID: true}
	for _, kv := range resp.Responses[0].GetResponseRange().GetKvs() {
		id, _, _ := strings.Cut(strings.TrimPrefix(string(kv.Key), e.keys.pending("")), "/")
		if t, ok := commitIDTime(id); done[id] || !ok || time.Since(t) < orphanChunkAge {
			continue
		}
		done[id] = true
		guard := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(e.keys.intent()), "=", liveMod)}
		_, _ = e.txn(ctx, "sweep", guard, []clientv3.Op{clientv3.OpDelete(e.keys.pending(id), clientv3.WithPrefix())})
	}
}
