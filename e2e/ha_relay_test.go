package e2e

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/nettest"
)

// plainMesh turns mesh mTLS off: the echo servers of echoMesh are not
// meshed, so the client calls them in plaintext.
const plainMesh = `apiVersion: embassy.dev/v1alpha1
kind: Mesh
metadata: {name: default}
spec:
  trustDomain: example.org
  mtls: {mode: DISABLED}
---
`

var proxylessGauge = regexp.MustCompile(`(?m)^embassy_xds_connected_proxies\{flavour="proxyless",xds="sotw"\} (\d+)$`)

// proxylessOn is how many proxyless clients hold a SotW stream on cp
// itself (its /metrics counts its own streams, not the fleet's).
func proxylessOn(t *testing.T, cp *controlPlane) int {
	t.Helper()
	body, err := authzAPIBody(cp, "/metrics")
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	m := proxylessGauge.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("/metrics has no proxyless SotW gauge:\n%s", body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestProxylessClientFollowsChangesThroughTheAgentsRelay runs gRPC's own
// xDS client with the bootstrap of its agent's relay, the agent listing
// three --etcd-embedded replicas, under steady traffic, and kills -9 the
// replica the relay carries its stream to. No call fails, the stream
// moves to a surviving replica, and a Route applied on another one then
// reaches the client: the change that a client listing the replicas in
// its own bootstrap does not get (TestProxylessClientKeepsCallingWhenItsReplicaIsKilled).
func TestProxylessClientFollowsChangesThroughTheAgentsRelay(t *testing.T) {
	rs := startReplicas(t, 3)
	dir := t.TempDir()
	v1, v2 := nettest.FreeAddr(t), nettest.FreeAddr(t)
	start(t, "echo-server", "--addr", v1, "--name", "v1").waitFor(reListening, 10*time.Second)
	start(t, "echo-server", "--addr", v2, "--name", "v2").waitFor(reListening, 10*time.Second)
	spare := nettest.FreeAddr(t) // the mesh's third Workload: never called
	rs.cps[1].mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", plainMesh+fmt.Sprintf(echoMesh, portOf(t, v1), portOf(t, v2), portOf(t, spare))))
	// Both versions' clusters from the start: a Route to a cluster the
	// client has not seen yet fails calls until the Cluster arrives,
	// relay or not, which is not what this test measures.
	rs.cps[1].mustCtl(t, "apply", "-f", writeFile(t, dir, "route.yaml", fmt.Sprintf(routeSplit, 50, 50)))

	bundle := writeFile(t, dir, "bundle.pem", rs.cps[1].ctlStdout(t, "bundle"))
	token := strings.TrimSpace(rs.cps[1].ctlStdout(t, "token", "create", "--namespace", "default", "--service-account", "echo-client", "--workload", "echo-client"))
	adir := agentDir(t, "echo-client")
	// pick_first: the relay's stream goes to r0, the first listed.
	a := launchAgent(t, adir, "embassy-agent", "echo-client", "--cp", rs.cps[0].xds+","+rs.cps[1].xds+","+rs.cps[2].xds,
		"--token-file", writeFile(t, adir, "join.token", token+"\n"), "--trust-bundle", bundle)
	boot := writeFile(t, dir, "bootstrap.json", rs.cps[1].mustCtl(t, "bootstrap", "grpc", "--workload", "echo-client.default", "--xds-relay", a.dir))

	next := intervals(t, boot, 120*time.Second)
	calls, failed := 0, 0
	count := func(s split) split {
		calls, failed = calls+s.Total, failed+s.Errors
		if s.Errors != 0 {
			t.Errorf("an interval had %d failed calls: %s", s.Errors, s.FirstError)
		}
		return s
	}
	// Until the client's first calls succeed (it has its configuration).
	for i := 0; ; i++ {
		if s := next(); s.Total > 0 && s.Errors == 0 {
			break
		}
		if i == 100 {
			t.Fatalf("the proxyless client made no successful call within 100 intervals; the agent:\n%s", a.output())
		}
	}
	if n := proxylessOn(t, rs.cps[0]); n != 1 {
		t.Fatalf("r0 holds %d proxyless streams, want the relayed one", n)
	}
	for range 10 {
		count(next())
	}
	killed := time.Now()
	rs.kill(0)
	// At least 3s of traffic after the kill, and until the relayed
	// stream is on a surviving replica (at most 20s).
	var moved time.Duration
	for i := 0; i < 30 || moved == 0; i++ {
		count(next())
		if moved == 0 && proxylessOn(t, rs.cps[1])+proxylessOn(t, rs.cps[2]) == 1 {
			moved = time.Since(killed)
		}
		if i == 200 {
			t.Fatalf("the relayed stream reached neither r1 nor r2 within 20s of the kill; the agent:\n%s", a.output())
		}
	}

	rs.cps[2].mustCtl(t, "apply", "-f", writeFile(t, dir, "route-v2.yaml", fmt.Sprintf(routeSplit, 0, 100)))
	applied := time.Now()
	var took time.Duration
	for i := 0; took == 0; i++ {
		if s := count(next()); s.ByBackend["v2"] > 0 && s.ByBackend["v1"] == 0 {
			took = time.Since(applied)
		}
		if i == 300 {
			t.Fatalf("a Route applied on r2 did not reach the client through the relay within 30s; the agent:\n%s", a.output())
		}
	}
	if failed != 0 || calls == 0 {
		t.Fatalf("%d of %d calls failed around the kill -9 of the relay's replica", failed, calls)
	}
	t.Logf("figure: %d calls, 0 failed, across the kill -9 of the replica the relay used; the stream was on another replica %s after the kill",
		calls, moved.Round(100*time.Millisecond))
	t.Logf("figure: a Route applied on a surviving replica took effect in the client %s after the apply returned", took.Round(100*time.Millisecond))
}
