package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"embassy.dev/embassy/pkg/client"
)

// admin is an API client of the control plane with its admin token.
func (c *controlPlane) admin(t *testing.T) *client.Client {
	t.Helper()
	return client.New("http://"+c.api, readSecret(t, filepath.Join(c.dataDir, "admin-token")))
}

// etcdURL is the client URL of replica i's embedded etcd member.
func (rs *replicaSet) etcdURL(i int) string {
	j := slices.Index(rs.args[i], "--etcd-client-url")
	return rs.args[i][j+1]
}

// etcdClient is a clientv3 client of the members of the replicas in
// live, closed when the test ends.
func (rs *replicaSet) etcdClient(t *testing.T, live ...int) *clientv3.Client {
	t.Helper()
	var eps []string
	for _, i := range live {
		eps = append(eps, rs.etcdURL(i))
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, Logger: zap.NewNop(), DialTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// etcdLeader returns the replica whose member leads the etcd cluster, as
// the members in live report it, or an error when none names a leader
// it knows (an election is under way).
func (rs *replicaSet) etcdLeader(t *testing.T, live ...int) (int, error) {
	t.Helper()
	cli := rs.etcdClient(t, live...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	members, err := cli.MemberList(ctx)
	if err != nil {
		return -1, err
	}
	for _, i := range live {
		st, err := cli.Status(ctx, rs.etcdURL(i))
		if err != nil || st.Leader == 0 {
			continue
		}
		for _, m := range members.Members {
			if m.ID == st.Leader {
				var r int
				if _, err := fmt.Sscanf(m.Name, "r%d", &r); err == nil {
					return r, nil
				}
			}
		}
	}
	return -1, fmt.Errorf("no member of replicas %v names a leader", live)
}
