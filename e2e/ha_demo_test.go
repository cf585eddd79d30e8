package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// demoHARow is one row of `make demo-ha`'s summary: kill, replica, why,
// writes resumed, proxies reconnected, change converged, restarted, etcd
// leader, cp leader, calls, failed.
var demoHARow = regexp.MustCompile(`(?m)^ +([12]) +(r\d) +(.+?) +(\d+\.\d+)s +(\d+\.\d+s|NOT RECONNECTED) +(\d+\.\d+s|NOT CONVERGED) +(no|at \d+\.\d+s) +(r\d) +(r\d) +(\d+) +(\d+)$`)

// TestDemoHA runs `make demo-ha`'s program with the binaries built for
// these tests: it must end by itself, with no failed call, a new etcd
// leader after the etcd leader's replica was killed, the change applied
// after each kill converged on every proxy, and nothing left behind.
func TestDemoHA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin("embassy-demo-ha"), "--bin", binDir, "--examples", "../examples/quickstart")
	logPath := startLogged(t, cmd)
	runErr := cmd.Wait()
	out := readLog(t, logPath)
	if runErr != nil {
		t.Fatalf("the demo failed: %v\n%s", runErr, out)
	}

	calls := regexp.MustCompile(`calls: (\d+) made, (\d+) failed`).FindStringSubmatch(out)
	if calls == nil || calls[1] == "0" || calls[2] != "0" {
		t.Errorf("the demo's calls %v: want some made and none failed:\n%s", calls, out)
	}
	rows := demoHARow.FindAllStringSubmatch(out, -1)
	if len(rows) != 2 {
		t.Fatalf("the demo's summary has %d rows, want one per kill:\n%s", len(rows), out)
	}
	for _, r := range rows {
		if r[5] == "NOT RECONNECTED" || r[6] == "NOT CONVERGED" || r[11] != "0" {
			t.Errorf("kill %s of %s: proxies reconnected %q, change converged %q, %s calls failed; want reconnected, converged and none failed:\n%s", r[1], r[2], r[5], r[6], r[11], out)
		}
	}
	if first, leaderKill := rows[0], rows[1]; first[2] == leaderKill[2] || !strings.Contains(leaderKill[3], "leads etcd") || leaderKill[8] == leaderKill[2] {
		t.Errorf("the second kill %v must be of another replica than the first, the one leading etcd, and leave another leader:\n%s", leaderKill[1:], out)
	}

	// Nothing is left: its directory and its replicas' APIs are gone.
	work := regexp.MustCompile(`data (\S+)/r0`).FindStringSubmatch(out)
	api := regexp.MustCompile(`r0: xDS \S+, API (http://\S+),`).FindStringSubmatch(out)
	if work == nil || api == nil {
		t.Fatalf("the demo named no directory or API:\n%s", out)
	}
	if _, err := os.Stat(work[1]); !os.IsNotExist(err) {
		t.Errorf("the demo left %s behind (%v)", work[1], err)
	}
	if _, err := (&http.Client{Timeout: 2 * time.Second}).Get(api[1] + "/healthz"); err == nil {
		t.Errorf("a replica still answers at %s after the demo", api[1])
	}
	t.Logf("figure: demo-ha's summary:\n%s", out[strings.Index(out, "Summary"):])
}
