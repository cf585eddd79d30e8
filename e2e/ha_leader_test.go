package e2e

import (
	"strings"
	"testing"
	"time"
)

// leaderLog is what a replica logs when etcd's election makes it leader.
const leaderLog = "this replica is the leader"

// TestLeadershipMovesWhenTheLeaderIsKilled kills -9 the replica that
// leads the once-only duties: another one leads within a bounded wait,
// and says so. The time it took is logged as a figure.
func TestLeadershipMovesWhenTheLeaderIsKilled(t *testing.T) {
	rs := startReplicas(t, 3)
	leader := -1
	deadline := time.Now().Add(60 * time.Second)
	for leader < 0 && time.Now().Before(deadline) {
		for i, cp := range rs.cps {
			if strings.Contains(cp.output(), leaderLog) {
				leader = i
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if leader < 0 {
		t.Fatal("no replica became leader within 60s")
	}
	for i, cp := range rs.cps {
		if i != leader && strings.Contains(cp.output(), leaderLog) {
			t.Fatalf("r%d and r%d both lead", leader, i)
		}
	}
	killed := time.Now()
	rs.kill(leader)
	next := -1
	for next < 0 && time.Since(killed) < 60*time.Second {
		for i, cp := range rs.cps {
			if i != leader && strings.Contains(cp.output(), leaderLog) {
				next = i
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if next < 0 {
		t.Fatalf("no replica took over from the killed leader r%d within 60s", leader)
	}
	t.Logf("figure: leadership moved from killed r%d to r%d in %s (session TTL 3s)", leader, next, time.Since(killed).Round(10*time.Millisecond))
}
