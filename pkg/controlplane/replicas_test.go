package controlplane

import (
	"context"
	"errors"
	"testing"
	"time"

	"embassy.dev/embassy/internal/etcdtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
)

// TestReplicasShareLeadershipAndRegistrationLeases runs two control
// planes on one etcd store: exactly one leads, and when the one an agent
// registered with stops, the other keeps the agent's Workload until its
// lease (kept in etcd) ends, then leads and removes it.
func TestReplicasShareLeadershipAndRegistrationLeases(t *testing.T) {
	m := etcdtest.Start(t)
	shared, kek := etcdtest.Config(m.ClientURL()), etcdtest.KEKFile(t)
	const leaseTTL = 2 * time.Second
	onEtcd := func(c *Config) {
		c.Store, c.Etcd, c.CAKeyEncryptionKeyFile = "etcd", shared, kek
		c.LeaseTTL = leaseTTL
	}
	a := startCP(t, t.TempDir(), &syncbuf.Buffer{}, onEtcd)
	defer a.Close()
	b := startCP(t, t.TempDir(), &syncbuf.Buffer{}, onEtcd)
	defer b.Close()
	poll.Until(t, "one of the two replicas to lead", func() bool { return a.leader.isLeader() != b.leader.isLeader() })

	applyYAML(t, a, meshShop)
	web, _ := attest(t, a, "shop", "web")
	c := dialIdentity(t, a, web.cert)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	granted := time.Now()
	if _, err := c.Register(ctx, "web-9", workloadSpec("127.0.0.9")); err != nil {
		t.Fatalf("register: %v", err)
	}
	a.Close()
	poll.Until(t, "the surviving replica to lead", b.leader.isLeader)

	key := resource.Key{Kind: resource.KindWorkload, Namespace: "shop", Name: "web-9"}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := b.Store().Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the Workload of an agent whose replica stopped was never removed after its lease ended")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Observed at or after its removal, which is at or after the lease's
	// end: earlier would mean the stopped replica's lease was lost.
	if held := time.Since(granted); held < leaseTTL {
		t.Fatalf("the Workload was removed %s after its lease was granted, before the %s lease ended", held, leaseTTL)
	}
}
