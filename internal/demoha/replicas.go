package demoha

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"embassy.dev/embassy/pkg/client"
	"embassy.dev/embassy/pkg/identity"
)

// replica is one embassy-cp with an embedded etcd member, on addresses
// fixed for the whole demo.
type replica struct {
	name              string
	xds, api, etcdURL string
	dataDir           string
	args              []string
	proc              *proc
	// runs counts the starts, each logged to a file of its own.
	runs int
}

// servingRE is embassy-cp's line once it serves.
var servingRE = regexp.MustCompile(`serving xDS on (\S+) and the API on http://(\S+) `)

// leaderLog is what a replica logs when etcd's election makes it the
// control planes' leader.
const leaderLog = "this replica is the leader"

// newReplicas picks the addresses of n replicas forming one etcd cluster
// and writes the key-encryption key they share.
func (d *demo) newReplicas(n int) error {
	kek := filepath.Join(d.work, "ca.kek")
	if err := identity.WriteNewKEKFile(kek); err != nil {
		return err
	}
	addrs := make([][4]string, n)
	peers := make([]string, n)
	for i := range addrs {
		for j := range addrs[i] {
			a, err := freeAddr()
			if err != nil {
				return err
			}
			addrs[i][j] = a
		}
		peers[i] = fmt.Sprintf("r%d=http://%s", i, addrs[i][3])
	}
	for i, a := range addrs {
		r := &replica{name: fmt.Sprintf("r%d", i), xds: a[0], api: a[1], etcdURL: "http://" + a[2], dataDir: filepath.Join(d.work, fmt.Sprintf("r%d", i))}
		r.args = []string{"--data-dir", r.dataDir, "--xds-addr", r.xds, "--api-addr", r.api, "--trust-domain", "example.org",
			"--anonymous-reads", "--etcd-embedded", "--etcd-name", r.name, "--etcd-peers", strings.Join(peers, ","),
			"--etcd-client-url", r.etcdURL, "--etcd-timeout", "2s", "--ca-key-encryption-key-file", kek}
		d.replicas = append(d.replicas, r)
	}
	return nil
}

// startReplica starts r (again, on its data dir) without waiting.
func (d *demo) startReplica(r *replica) error {
	r.runs++
	p, err := d.start(fmt.Sprintf("%s.run%d", r.name, r.runs), "embassy-cp", r.args...)
	r.proc = p
	return err
}

// serving waits for r to serve (its member waits for a majority of its
// peers first).
func (r *replica) serving(within time.Duration) error {
	_, err := r.proc.waitFor(servingRE, within)
	return err
}

// alive says whether r's process runs.
func (r *replica) alive() bool {
	select {
	case <-r.proc.done:
		return false
	default:
		return true
	}
}

// admin is an API client of r with its admin token.
func (r *replica) admin() (*client.Client, error) {
	tok, err := client.ReadTokenFile(filepath.Join(r.dataDir, "admin-token"))
	if err != nil {
		return nil, err
	}
	return client.New("http://"+r.api, tok), nil
}

// etcdLeader returns the replica whose member leads etcd, as the live
// members report it.
func (d *demo) etcdLeader(ctx context.Context) (*replica, error) {
	var eps []string
	for _, r := range d.live() {
		eps = append(eps, r.etcdURL)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, Logger: zap.NewNop(), DialTimeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	members, err := cli.MemberList(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range d.live() {
		st, err := cli.Status(ctx, r.etcdURL)
		if err != nil || st.Leader == 0 {
			continue
		}
		for _, m := range members.Members {
			if m.ID != st.Leader {
				continue
			}
			for _, l := range d.replicas {
				if l.name == m.Name {
					return l, nil
				}
			}
		}
	}
	return nil, fmt.Errorf("no live etcd member names a leader")
}

// cpLeader is the live replica that leads the once-only duties, as
// its log of this run says, or nil.
func (d *demo) cpLeader() *replica {
	for _, r := range d.live() {
		out := r.proc.output()
		if i := strings.LastIndex(out, leaderLog); i >= 0 && !strings.Contains(out[i:], "leadership lost") {
			return r
		}
	}
	return nil
}

// live are the replicas whose process runs.
func (d *demo) live() []*replica {
	var out []*replica
	for _, r := range d.replicas {
		if r.proc != nil && r.alive() {
			out = append(out, r)
		}
	}
	return out
}
