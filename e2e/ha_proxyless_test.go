package e2e

import (
	"fmt"
	"testing"
	"time"

	"embassy.dev/embassy/internal/nettest"
)

// TestProxylessClientKeepsCallingWhenItsReplicaIsKilled runs gRPC's own
// xDS client with a bootstrap listing two replicas, under steady
// traffic, and kills -9 the replica it is connected to: no call fails,
// since calls go to the backends directly and only xDS moves. Whether a
// change applied on a surviving replica reaches the client, and when, is
// logged as an observation: gRPC falls back to the next server only for
// resources it has not cached yet.
func TestProxylessClientKeepsCallingWhenItsReplicaIsKilled(t *testing.T) {
	rs := startReplicas(t, 3, "--insecure-xds")
	dir := t.TempDir()
	v1, v2 := nettest.FreeAddr(t), nettest.FreeAddr(t)
	start(t, "echo-server", "--addr", v1, "--name", "v1").waitFor(reListening, 10*time.Second)
	start(t, "echo-server", "--addr", v2, "--name", "v2").waitFor(reListening, 10*time.Second)
	spare := nettest.FreeAddr(t) // the mesh's third Workload: never called
	rs.cps[1].mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", fmt.Sprintf(echoMesh, portOf(t, v1), portOf(t, v2), portOf(t, spare))))
	rs.cps[1].mustCtl(t, "apply", "-f", writeFile(t, dir, "route.yaml", fmt.Sprintf(routeSplit, 100, 0)))
	boot := writeFile(t, dir, "bootstrap.json", rs.cps[1].mustCtl(t, "bootstrap", "grpc", "--workload", "echo-client.default",
		"--xds-address", rs.cps[0].xds+","+rs.cps[1].xds))

	next := intervals(t, boot, 90*time.Second)
	calls, failed := 0, 0
	read := func(n int) {
		for range n {
			s := next()
			calls, failed = calls+s.Total, failed+s.Errors
			if s.Errors != 0 {
				t.Errorf("an interval had %d failed calls: %s", s.Errors, s.FirstError)
			}
		}
	}
	// Until the client's first calls succeed (it has its configuration).
	for i := 0; ; i++ {
		if s := next(); s.Total > 0 && s.Errors == 0 {
			break
		}
		if i == 100 {
			t.Fatal("the proxyless client made no successful call within 100 intervals")
		}
	}
	read(10)
	rs.kill(0)
	read(30) // 3s of traffic after the kill
	if failed != 0 || calls == 0 {
		t.Fatalf("%d of %d calls failed around the kill -9 of the client's replica", failed, calls)
	}
	t.Logf("figure: %d calls, %d failed, across the kill -9 of the proxyless client's xDS replica", calls, failed)

	rs.cps[2].mustCtl(t, "apply", "-f", writeFile(t, dir, "route-v2.yaml", fmt.Sprintf(routeSplit, 0, 100)))
	applied := time.Now()
	for range 100 { // 10s
		if s := next(); s.ByBackend["v2"] > 0 && s.ByBackend["v1"] == 0 {
			t.Logf("observation: a change applied on a surviving replica reached the client after %s", time.Since(applied).Round(100*time.Millisecond))
			return
		}
	}
	t.Logf("observation: a change applied on a surviving replica did not reach the client within 10s (gRPC keeps its cached configuration and retries its first server)")
}
