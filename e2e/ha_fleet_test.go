package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/internal/nettest"
	"embassy.dev/embassy/internal/poll"
)

// TestEveryReplicaShowsTheWholeFleet connects a proxyless client to r0
// only: r1's and r2's proxy-status list it, and once r0 is killed -9 its proxies
// leave r2's list within the published list's lease.
func TestEveryReplicaShowsTheWholeFleet(t *testing.T) {
	rs := startReplicas(t, 3, "--insecure-xds")
	dir := t.TempDir()
	v1, v2, spare := nettest.FreeAddr(t), nettest.FreeAddr(t), nettest.FreeAddr(t)
	start(t, "echo-server", "--addr", v1, "--name", "v1").waitFor(reListening, 10*time.Second)
	start(t, "echo-server", "--addr", v2, "--name", "v2").waitFor(reListening, 10*time.Second)
	rs.cps[0].mustCtl(t, "apply", "-f", writeFile(t, dir, "mesh.yaml", fmt.Sprintf(echoMesh, portOf(t, v1), portOf(t, v2), portOf(t, spare))))
	boot := writeFile(t, dir, "bootstrap.json", rs.cps[0].mustCtl(t, "bootstrap", "grpc", "--workload", "echo-client.default", "--xds-address", rs.cps[0].xds))
	next := intervals(t, boot, 60*time.Second)
	for i := 0; ; i++ {
		if s := next(); s.Total > 0 && s.Errors == 0 {
			break
		}
		if i == 100 {
			t.Fatal("the proxyless client made no successful call within 100 intervals")
		}
	}
	listed := func(cp *controlPlane) bool {
		return strings.Contains(cp.mustCtl(t, "proxy-status"), "echo-client.default")
	}
	// Each replica merges the others' published lists on its own second,
	// so each is waited for.
	poll.Until(t, "r2's proxy-status to list the client connected to r0", func() bool { return listed(rs.cps[2]) })
	poll.Until(t, "r1's proxy-status to list the client connected to r0", func() bool { return listed(rs.cps[1]) })
	killed := time.Now()
	rs.kill(0)
	poll.Until(t, "the killed replica's proxy to leave r2's proxy-status", func() bool { return !listed(rs.cps[2]) })
	t.Logf("figure: a killed replica's proxies left the others' /v1/proxies %s after the kill (lease 5s)", time.Since(killed).Round(100*time.Millisecond))
}
