package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"embassy.dev/embassy/internal/proccpu"
	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/store"
)

// The replica child protocol: the parent writes one replicaCmd per line
// on the child's stdin, and the child answers each with one replicaReply
// line on its stdout. The first command makes the child an etcd member
// ("etcd") or a control plane ("start"); "heap", "cpu" and "close" work for
// both, the rest for a control plane alone.

type replicaCmd struct {
	Op string `json:"op"` // etcd, start, seed, published, expect, commit, stats, connected, acked, heap, cpu, close
	// Start configures a control plane: on the etcd store at Endpoints,
	// or on a memory store when there are none.
	Start *replicaStart `json:"start,omitempty"`
	Rev   int64         `json:"rev,omitempty"`
	IDs   []string      `json:"ids,omitempty"`
	Ops   []store.Op    `json:"ops,omitempty"`
	Mode  Mode          `json:"mode,omitempty"`
	// TypeURL and Since (Unix nanoseconds) ask how many proxies ACKed a
	// response of that type sent at or after Since.
	TypeURL string `json:"typeUrl,omitempty"`
	Since   int64  `json:"since,omitempty"`
}

type replicaStart struct {
	Endpoints []string      `json:"endpoints,omitempty"`
	KEKFile   string        `json:"kekFile,omitempty"`
	Mesh      MeshSize      `json:"mesh"`
	Debounce  time.Duration `json:"debounce"`
	ViaApply  bool          `json:"viaApply"`
}

type replicaReply struct {
	Err string `json:"err,omitempty"`
	// Addr is the control plane's xDS address, or the etcd member's
	// client URL.
	Addr  string        `json:"addr,omitempty"`
	Rev   int64         `json:"rev,omitempty"`
	Seed  time.Duration `json:"seed,omitempty"`
	Stats [4]int64      `json:"stats"` // SotW responses, bytes; Delta responses, bytes
	Count int           `json:"count,omitempty"`
	Heap  uint64        `json:"heap,omitempty"`
	CPU   time.Duration `json:"cpu,omitempty"`
}

// ServeReplicaChild runs one server process of the Single and Replicas
// servers for a parent embassy-bench (embassy-bench --replica-child): an
// etcd member or a control plane, as the first command says. It answers
// commands from in on out until in ends, the parent says close, or ctx
// ends; progress lines go to logw.
func ServeReplicaChild(ctx context.Context, in io.Reader, out io.Writer, logw io.Writer) error {
	enc := json.NewEncoder(out)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	var rc replicaChild
	rc.log = logw
	defer rc.close()
	for sc.Scan() {
		var c replicaCmd
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return fmt.Errorf("bad command from the parent: %w", err)
		}
		rep, err := rc.do(ctx, c)
		if err != nil {
			rep = replicaReply{Err: err.Error()}
		}
		if err := enc.Encode(rep); err != nil {
			return err
		}
		if c.Op == "close" {
			return nil
		}
	}
	return sc.Err()
}

// replicaChild is what one child process runs: an etcd member or a
// control plane.
type replicaChild struct {
	log    io.Writer
	member *store.Member
	dir    string
	e      *embassyTarget
	ids    map[string]bool
}

func (rc *replicaChild) do(ctx context.Context, c replicaCmd) (replicaReply, error) {
	if rc.e == nil && rc.member == nil && c.Op != "etcd" && c.Op != "start" && c.Op != "close" {
		return replicaReply{}, fmt.Errorf("%s: the first command must be etcd or start", c.Op)
	}
	switch c.Op {
	case "etcd":
		return rc.startEtcd(ctx)
	case "start":
		return rc.startEmbassy(ctx, c.Start)
	case "heap":
		return replicaReply{Heap: liveHeap()}, nil
	case "cpu":
		return replicaReply{CPU: proccpu.Used()}, nil
	case "close":
		rc.close()
		return replicaReply{}, nil
	}
	if rc.e == nil {
		return replicaReply{}, fmt.Errorf("%s: this child is an etcd member, not a control plane", c.Op)
	}
	switch c.Op {
	case "seed":
		d, err := rc.e.seed(ctx)
		return replicaReply{Seed: d, Rev: rc.e.cp.Store().Revision()}, err
	case "published":
		return replicaReply{}, rc.e.waitPublished(ctx, c.Rev)
	case "expect":
		rc.ids = map[string]bool{}
		for _, id := range c.IDs {
			rc.ids[id] = true
		}
		return replicaReply{}, nil
	case "commit":
		rev, err := rc.e.cp.Store().Commit(ctx, c.Ops)
		return replicaReply{Rev: rev}, err
	case "stats":
		s := rc.e.Stats()
		return replicaReply{Stats: [4]int64{s.sotw.responses, s.sotw.bytes, s.delta.responses, s.delta.bytes}}, nil
	case "connected":
		return replicaReply{Count: rc.e.connected(rc.ids, c.Mode)}, nil
	case "acked":
		return replicaReply{Count: rc.e.AckedSince(rc.ids, c.TypeURL, time.Unix(0, c.Since))}, nil
	}
	return replicaReply{}, fmt.Errorf("unknown command %q", c.Op)
}

// startEtcd starts a one-member etcd cluster with the code embassy-cp
// --etcd-embedded runs.
func (rc *replicaChild) startEtcd(ctx context.Context) (replicaReply, error) {
	if rc.e != nil || rc.member != nil {
		return replicaReply{}, errors.New("etcd: this child already serves")
	}
	var err error
	if rc.dir, err = os.MkdirTemp("", "embassy-bench-etcd-"); err != nil {
		return replicaReply{}, err
	}
	peer, err := freeLoopbackAddr()
	if err != nil {
		return replicaReply{}, err
	}
	rc.member, err = store.StartMember(ctx, store.EmbedConfig{
		Name:      "bench",
		Dir:       filepath.Join(rc.dir, "etcd"),
		Peers:     []store.Peer{{Name: "bench", URL: "http://" + peer}},
		ClientURL: "http://127.0.0.1:0",
		LogLevel:  "fatal",
	})
	if err != nil {
		return replicaReply{}, fmt.Errorf("starting the etcd member: %w", err)
	}
	return replicaReply{Addr: rc.member.ClientURL()}, nil
}

// startEmbassy starts a control plane and makes sure its store watch is
// live; the mesh is seeded by a later command, through one replica.
func (rc *replicaChild) startEmbassy(ctx context.Context, s *replicaStart) (replicaReply, error) {
	if rc.e != nil || rc.member != nil || s == nil {
		return replicaReply{}, errors.New("start: sent twice, to an etcd member, or without a configuration")
	}
	cfg := Config{Mesh: s.Mesh, Debounce: s.Debounce, ViaApply: s.ViaApply, ConnectTimeout: 5 * time.Minute, Log: rc.log}
	e, err := newEmbassy(ctx, cfg, func(c *controlplane.Config) {
		c.Store = "memory"
		if len(s.Endpoints) > 0 {
			c.Store, c.Etcd.Endpoints, c.CAKeyEncryptionKeyFile = "etcd", s.Endpoints, s.KEKFile
		}
	})
	if err != nil {
		return replicaReply{}, err
	}
	rc.e = e
	return replicaReply{Addr: e.cp.XDSAddr(), Rev: e.cp.Store().Revision()}, nil
}

func (rc *replicaChild) close() {
	if rc.e != nil {
		rc.e.Close()
		rc.e = nil
	}
	if rc.member != nil {
		rc.member.Close()
		rc.member = nil
	}
	if rc.dir != "" {
		os.RemoveAll(rc.dir)
		rc.dir = ""
	}
}

// freeLoopbackAddr is a 127.0.0.1 address with a port that was free a
// moment ago, for the etcd member's peer URL, which cannot take port 0.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
