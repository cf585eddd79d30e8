package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	jose "github.com/go-jose/go-jose/v4"

	"embassy.dev/embassy/internal/etcdtest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/pkg/store"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/jwt/jwttest"
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

// jwksPolicy is an AuthorizationPolicy whose users provider's keys are
// at url.
func jwksPolicy(url string) string {
	return `apiVersion: embassy.dev/v1alpha1
kind: AuthorizationPolicy
metadata: {name: users, namespace: shop}
spec:
  targets: {services: [web]}
  jwtProviders:
  - {name: users, issuer: "https://id.example.com", jwksURL: "` + url + `"}
  modules:
  - name: authz.rego
    rego: |
      package envoy.authz
      default allow := false
      allow if input.attributes.metadataContext.filterMetadata["envoy.filters.http.jwt_authn"].users.sub == "alice"
`
}

// compiledKeys is the key set and bundle revision of the users policy
// as cp last published it ("" before it has one).
func compiledKeys(cp *ControlPlane) (jwks, revision string) {
	for _, p := range cp.snapshot().AuthorizationPolicies {
		if p.Name == "users" && p.Compiled != nil && len(p.Compiled.JWTProviders) == 1 {
			return p.Compiled.JWTProviders[0].JWKS, p.Compiled.Revision
		}
	}
	return "", ""
}

// TestJWKSFetchedByTheLeaderOnly runs two control planes on one real
// etcd: only the leader fetches a policy's key set; both compile the
// same keys into the policy; a rotation at the provider reaches both;
// when the leader stops, the other leads and fetches from then on.
func TestJWKSFetchedByTheLeaderOnly(t *testing.T) {
	m := etcdtest.Start(t)
	shared, kek := etcdtest.Config(m.ClientURL()), etcdtest.KEKFile(t)
	const refresh = 300 * time.Millisecond
	replica := func(name string) *ControlPlane {
		return startCP(t, t.TempDir(), &syncbuf.Buffer{}, func(c *Config) {
			c.Store, c.Etcd, c.CAKeyEncryptionKeyFile = "etcd", shared, kek
			c.JWKSRefresh, c.JWKSClient = refresh, replicaClient(name)
		})
	}
	a, b := replica("a"), replica("b")
	defer a.Close()
	defer b.Close()
	poll.Until(t, "one of the two replicas to lead", func() bool { return a.leader.isLeader() != b.leader.isLeader() })
	leader, follower, lname, fname := a, b, "a", "b"
	if b.leader.isLeader() {
		leader, follower, lname, fname = b, a, "b", "a"
	}

	k1, k2, k3 := jwttest.NewKey(t, jose.ES256, "k1"), jwttest.NewKey(t, jose.ES256, "k2"), jwttest.NewKey(t, jose.ES256, "k3")
	srv := newJWKSServer(t, jwttest.JWKS(t, k1))
	claims := map[string]any{"iss": "https://id.example.com", "sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
	// Applied through the follower: the leader still fetches it at once.
	applied := time.Now()
	applyYAML(t, follower, jwksPolicy(srv.URL))
	bothCarry := func(kid string) time.Duration {
		t.Helper()
		poll.UntilState(t, "both replicas to compile key "+kid, func() (bool, string) {
			ka, ra := compiledKeys(a)
			kb, rb := compiledKeys(b)
			return ka == kb && ra == rb && strings.Contains(ka, `"kid":"`+kid+`"`),
				fmt.Sprintf("a: revision %s keys %s; b: revision %s keys %s", ra, ka, rb, kb)
		})
		return time.Since(applied)
	}
	t.Logf("a new policy's keys were compiled on both replicas %s after its apply", bothCarry("k1"))
	for _, cp := range []*ControlPlane{a, b} {
		for _, p := range cp.snapshot().AuthorizationPolicies {
			if !verifies(t, p.Compiled, k1.Sign(t, claims)) {
				t.Fatal("the compiled policy does not verify a token of the fetched key")
			}
		}
	}

	// An agent of web on each replica: what reaches its policy stream.
	applyYAML(t, follower, meshShop)
	web, _ := attest(t, leader, "shop", "web")
	streams := []*policyStream{openPolicyStream(t, a, &web), openPolicyStream(t, b, &web)}
	tok1, tok2 := k1.Sign(t, claims), k2.Sign(t, claims)
	for _, s := range streams {
		s.until(t, func(b *compile.Bundle) bool { return verifiesBundle(b, tok1) })
	}

	applied = time.Now()
	srv.serve(http.StatusOK, jwttest.JWKS(t, k2))
	t.Logf("a rotation at the provider reached both replicas in %s (refresh %s)", bothCarry("k2"), refresh)
	for _, s := range streams {
		s.until(t, func(b *compile.Bundle) bool { return verifiesBundle(b, tok2) && !verifiesBundle(b, tok1) })
	}
	t.Logf("and both replicas' agents %s after the rotation", time.Since(applied))
	if n := srv.fetchesBy(fname); n != 0 {
		t.Fatalf("the follower fetched %d times; only the leader may", n)
	}
	if n := srv.fetchesBy(lname); n < 2 {
		t.Fatalf("the leader fetched %d times, want at least 2 (the new URL, the rotation)", n)
	}

	// Closing waits a second for open streams: watch the handover
	// meanwhile.
	stopped, closed := time.Now(), make(chan error, 1)
	go func() { closed <- leader.Close() }()
	poll.Until(t, "the surviving replica to lead", follower.leader.isLeader)
	led := time.Since(stopped)
	poll.Until(t, "the new leader to fetch", func() bool { return srv.fetchesBy(fname) > 0 })
	t.Logf("the other replica led %s and fetched %s after the leader began to stop", led, time.Since(stopped))
	poll.Returned(t, "closing the old leader", closed)
	applied = time.Now()
	srv.serve(http.StatusOK, jwttest.JWKS(t, k3))
	poll.Until(t, "the new leader to compile a rotated key", func() bool {
		keys, _ := compiledKeys(follower)
		return strings.Contains(keys, `"kid":"k3"`)
	})
	t.Logf("a rotation after the failover was compiled in %s", time.Since(applied))
}

// TestJWKSLeaderCutOffFromEtcd: the leader loses etcd (its connections
// cut, as when its machine drops off the network): the other replica
// leads once the leader's session expires and fetches the provider's
// rotation; the cut-off one keeps compiling the keys it last read from
// etcd, never a set it could not store, and takes the new one when it is
// back.
func TestJWKSLeaderCutOffFromEtcd(t *testing.T) {
	m := etcdtest.Start(t)
	p := etcdtest.NewProxy(t, strings.TrimPrefix(m.ClientURL(), "http://"))
	kek := etcdtest.KEKFile(t)
	const refresh = 300 * time.Millisecond
	logs := map[string]*syncbuf.Buffer{"a": {}, "b": {}}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("a:\n%s", logs["a"])
		}
	})
	shared := etcdtest.Config(m.ClientURL())
	shared.RequestTimeout = time.Second
	// Both on one prefix; a reaches etcd through the proxy.
	replica := func(name, endpoint string) *ControlPlane {
		ecfg := shared
		ecfg.Endpoints = []string{endpoint}
		return startCP(t, t.TempDir(), logs[name], func(c *Config) {
			c.Store, c.Etcd, c.CAKeyEncryptionKeyFile = "etcd", ecfg, kek
			c.JWKSRefresh, c.JWKSClient = refresh, replicaClient(name)
		})
	}
	a := replica("a", p.URL())
	defer a.Close()
	poll.Until(t, "the first replica to lead", a.leader.isLeader)
	b := replica("b", m.ClientURL())
	defer b.Close()

	k1, k2 := jwttest.NewKey(t, jose.ES256, "k1"), jwttest.NewKey(t, jose.ES256, "k2")
	srv := newJWKSServer(t, jwttest.JWKS(t, k1))
	applyYAML(t, b, jwksPolicy(srv.URL))
	poll.UntilState(t, "both replicas to compile k1", func() (bool, string) {
		ka, ra := compiledKeys(a)
		kb, rb := compiledKeys(b)
		return ka != "" && ka == kb && ra == rb, fmt.Sprintf("a: %s %s; b: %s %s; fetches by a %d, by b %d", ra, ka, rb, kb, srv.fetchesBy("a"), srv.fetchesBy("b"))
	})
	if srv.fetchesBy("b") != 0 {
		t.Fatalf("the follower fetched %d times", srv.fetchesBy("b"))
	}

	cut := time.Now()
	p.Cut()
	srv.serve(http.StatusOK, jwttest.JWKS(t, k2))
	poll.Until(t, "the connected replica to lead", b.leader.isLeader)
	led := time.Since(cut)
	poll.Until(t, "the new leader to compile the rotated key", func() bool {
		keys, _ := compiledKeys(b)
		return strings.Contains(keys, `"kid":"k2"`)
	})
	t.Logf("cut off the leader: the other led %s later and compiled the provider's rotation %s later", led, time.Since(cut))
	if keys, _ := compiledKeys(a); !strings.Contains(keys, `"kid":"k1"`) {
		t.Fatalf("the cut-off replica compiles a key set etcd never held from it: %s", keys)
	}
	// Its session ends on its side too, so it stops fetching.
	poll.Until(t, "the cut-off replica to stop leading", func() bool { return !a.leader.isLeader() })

	healed := time.Now()
	p.Heal()
	poll.Until(t, "the healed replica to compile the stored rotation", func() bool {
		ka, ra := compiledKeys(a)
		kb, rb := compiledKeys(b)
		return ka == kb && ra == rb
	})
	t.Logf("the healed replica compiled the stored rotation %s after the cut healed", time.Since(healed))
}

// policyStream is an agent's policy (ExtensionConfig) stream as
// web-1.shop, the users policy's bundles as they arrive.
type policyStream struct {
	stream discovery.AggregatedDiscoveryService_StreamAggregatedResourcesClient
	node   *core.Node
}

func openPolicyStream(t *testing.T, cp *ControlPlane, s *svid) *policyStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	stream, err := dialXDS(t, cp, s).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := &core.Node{Id: "web-1.shop", UserAgentName: "embassy-agent"}
	if err := stream.Send(&discovery.DiscoveryRequest{TypeUrl: resourcev3.ExtensionConfigType, Node: node}); err != nil {
		t.Fatal(err)
	}
	return &policyStream{stream: stream, node: node}
}

// until reads responses until the users policy's bundle satisfies ok.
func (p *policyStream) until(t *testing.T, ok func(*compile.Bundle) bool) {
	t.Helper()
	recvUntil(t, p.stream, p.node, func(r *discovery.DiscoveryResponse) bool {
		b := bundles(t, r)["embassy.authz/shop/users"]
		return b != nil && ok(b)
	})
}

// verifiesBundle reports whether a bundle's verifier accepts tok.
func verifiesBundle(b *compile.Bundle, tok string) bool {
	res, err := b.JWTVerifier().Verify(map[string]string{"authorization": "Bearer " + tok}, time.Now())
	return err == nil && len(res) == 1
}
