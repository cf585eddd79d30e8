package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
	"embassy.dev/embassy/pkg/controlplane"
	"embassy.dev/embassy/pkg/dataplane"
)

// unsyncedDebounce is the control plane's debounce in these tests: the
// window in which a new agent has registered but no push holds its
// workload. It is long so that a loaded machine still sees Checks in it.
const unsyncedDebounce = 3 * time.Second

// answer is one Check's answer and whether it was asked before the
// control plane's first push since the agent started: before that push
// no snapshot holds the agent's workload, so no policy set for it exists.
type answer struct {
	resp       *authv3.CheckResponse
	beforePush bool
}

// settled waits until the control plane has pushed everything applied so
// far, and returns the revision of that push.
func settled(t *testing.T, cp *controlplane.ControlPlane) int64 {
	t.Helper()
	var rev int64
	poll.UntilState(t, "the control plane's push of what was applied", func() (bool, string) {
		p, ok := cp.XDS().LastPush()
		rev = p.Revision
		stored := cp.Store().Revision()
		return ok && p.Revision == stored, fmt.Sprintf("pushed %v, revision %d of the store's %d", ok, p.Revision, stored)
	})
	return rev
}

// firstAnswers sends Check for method from the moment authz.sock exists
// and returns the answers until one is allowed or stop reports true,
// within 10s and 2000 calls.
func firstAnswers(t *testing.T, cp *controlplane.ControlPlane, pushed int64, dir, method string, stop func() bool) []answer {
	t.Helper()
	sock := filepath.Join(dir, dataplane.AuthzSocket)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", sock)
		}
		time.Sleep(time.Millisecond)
	}
	authz := authzClient(t, dir)
	var out []answer
	for range 2000 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := authz.Check(ctx, checkRequest(method, "/"))
		cancel()
		// Read after the answer: a push that lands while the Check is in
		// flight then counts it as after the push, never before.
		p, _ := cp.XDS().LastPush()
		if err != nil {
			// The socket exists a moment before Serve accepts on it.
			if len(out) == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			t.Fatal(err)
		}
		out = append(out, answer{resp: resp, beforePush: p.Revision == pushed})
		if resp.GetStatus().GetCode() == codeOK || stop() || time.Now().After(deadline) {
			return out
		}
		time.Sleep(2 * time.Millisecond)
	}
	if len(out) == 0 {
		t.Fatalf("no Check on %s was answered in 2000 tries", sock)
	}
	return out
}

// checkUnsynced fails the test unless some answers came before the push
// and every one of them is the deny that says no policy set arrived.
func checkUnsynced(t *testing.T, a *Agent, answers []answer, logs *syncbuf.Buffer) {
	t.Helper()
	a.Authz().decisions.Flush()
	before := 0
	for i, ans := range answers {
		if !ans.beforePush {
			continue
		}
		before++
		if st := ans.resp.GetStatus(); st.GetCode() != codeDenied || st.GetMessage() != unsyncedReason {
			t.Fatalf("Check %d, before the control plane pushed the agent's workload: %v, want a deny saying %q:\n%s", i+1, st, unsyncedReason, logs)
		}
	}
	if before == 0 {
		t.Fatalf("no Check was answered before the push of the agent's workload; the debounce is too short to see the window:\n%s", logs)
	}
	if !strings.Contains(logs.String(), unsyncedReason) {
		t.Fatalf("the decision log does not say why it denied:\n%s", logs)
	}
}

// TestNewAgentDeniesBeforeItsFirstPolicySet: a new agent serves ext_authz
// before its registration reaches the control plane's next push, held
// back here by a 3s debounce. Every Check in that window, from the very
// first, is denied with a reason that says no policy set has arrived,
// even one no policy would deny; the policy's own decisions, or the
// allow of a workload no policy targets, start only when the set does.
func TestNewAgentDeniesBeforeItsFirstPolicySet(t *testing.T) {
	t.Run("a request the policy denies", func(t *testing.T) {
		logs := &syncbuf.Buffer{}
		cp := startPolicyCP(t, unsyncedDebounce, methodPolicy("GET"), logs)
		pushed := settled(t, cp)
		a, dir := runPolicyAgent(t, cp, "web", "", logs)
		answers := firstAnswers(t, cp, pushed, dir, "POST", func() bool { return a.Authz().Revisions()["shop/methods"] != "" })
		for i, r := range answers {
			if r.resp.GetStatus().GetCode() == codeOK {
				t.Fatalf("Check %d of %d was allowed before the policy arrived:\n%s", i+1, len(answers), logs)
			}
		}
		checkUnsynced(t, a, answers, logs)
		if c, status := check(t, authzClient(t, dir), "POST", "/"); c != codeDenied || status != 403 {
			t.Fatalf("after the policy arrived, POST: code %d status %d, want its 403", c, status)
		}
	})
	t.Run("a workload no policy targets", func(t *testing.T) {
		logs := &syncbuf.Buffer{}
		cp := startPolicyCP(t, unsyncedDebounce, methodPolicy("GET")+`---
apiVersion: embassy.dev/v1alpha1
kind: Service
metadata: {name: plain, namespace: shop}
spec:
  ports: [{name: http, port: 8080, protocol: http}]
  serviceAccounts: [web]
`, logs)
		pushed := settled(t, cp)
		a, dir := runPolicyAgent(t, cp, "plain", "", logs)
		answers := firstAnswers(t, cp, pushed, dir, "POST", func() bool { return false })
		if last := answers[len(answers)-1]; last.resp.GetStatus().GetCode() != codeOK || last.beforePush {
			t.Fatalf("the last answer %v (before the push: %v), want an allow once the empty set arrived:\n%s", last.resp.GetStatus(), last.beforePush, logs)
		}
		checkUnsynced(t, a, answers, logs)
	})
}
