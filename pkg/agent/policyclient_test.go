package agent

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"

	"embassy.dev/embassy/internal/bundletest"
	"embassy.dev/embassy/internal/poll"
	"embassy.dev/embassy/internal/syncbuf"
)

const (
	codeOK     = int32(code.Code_OK)
	codeDenied = int32(code.Code_PERMISSION_DENIED)
)

func dryRunMode(s *resource.AuthorizationPolicySpec) { s.Mode = compile.ModeDryRun }

// The agent follows what a go-control-plane server pushes: it fails
// closed before the first answer, enforces each revision it ACKs, NACKs a
// revision that does not load with the policy, revision and reason while
// the last good one keeps deciding, lets dry-run policies only log, denies
// for a policy none of whose revisions loaded, and allows once nothing
// targets the workload.
func TestAgentEnforcesPushedPolicies(t *testing.T) {
	logs := &syncbuf.Buffer{}
	ps, ta, authz := startAuthzAgent(t, newFakeCP(t, time.Hour), func(c *Config) {
		c.Logger = hclog.New(&hclog.LoggerOptions{Output: logs, Level: hclog.Debug, JSONFormat: true})
		c.Authz.LogHeaderValues = []string{"X-Request-Id"}
	})

	// Before the control plane answers, nothing is known: deny.
	if c, status := check(t, authz, "GET", "/ok"); c != codeDenied || status != 503 {
		t.Fatalf("before any answer: code %d status %d, want a 503 deny", c, status)
	}
	first := <-ps.requests
	if n := first.GetNode(); n.GetId() != "web-1.shop" || n.GetMetadata().GetFields()[dataplane.FlavourKey].GetStringValue() != dataplane.FlavourAgent ||
		first.GetTypeUrl() != "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig" || len(first.GetResourceNames()) != 0 {
		t.Fatalf("first request %v: want a wildcard ExtensionConfig subscription of node web-1.shop with flavour agent", first)
	}

	v1 := compilePolicy(t, "shop/paths", pathsOK)
	ps.set(t, "web-1.shop", v1.Revision(), policyResource(t, "shop/paths", v1))
	ps.answer(t, false, v1.Revision())
	if c, _ := check(t, authz, "GET", "/ok"); c != codeOK {
		t.Errorf("revision 1, /ok: code %d, want OK", c)
	}
	if c, status := check(t, authz, "GET", "/also"); c != codeDenied || status != 403 {
		t.Errorf("revision 1, /also: code %d status %d, want a 403 deny", c, status)
	}

	// A new revision is applied.
	v2 := compilePolicy(t, "shop/paths", "default allow := false\n\nallow if input.attributes.request.http.path in {\"/ok\", \"/also\"}")
	ps.set(t, "web-1.shop", v2.Revision(), policyResource(t, "shop/paths", v2))
	ps.answer(t, false, v2.Revision())
	if c, _ := check(t, authz, "GET", "/also"); c != codeOK {
		t.Errorf("revision 2, /also: code %d, want OK", c)
	}

	// A revision that compiled elsewhere but calls a function this agent
	// does not know is NACKed; revision 2 keeps deciding.
	badRaw, badRev := bundletest.Forge(t, v2, "package envoy.authz\n\ndefault allow := false\n\nallow if no_such_function(input.attributes.request.http.path)")
	ps.set(t, "web-1.shop", "v3", rawPolicyResource(t, "shop/paths", badRaw))
	nack := ps.answer(t, true, "v3")
	msg := nack.GetErrorDetail().GetMessage()
	if !strings.Contains(msg, "shop/paths") || !strings.Contains(msg, badRev) || !strings.Contains(msg, "no_such_function") {
		t.Errorf("NACK message %q: want the policy, revision %s and the undefined function", msg, badRev)
	}
	if nack.GetVersionInfo() != v2.Revision() {
		t.Errorf("the NACK carries version %q, want the last accepted %s", nack.GetVersionInfo(), v2.Revision())
	}
	if c, _ := check(t, authz, "GET", "/also"); c != codeOK {
		t.Errorf("after the NACK, /also: code %d, want OK by revision 2", c)
	}
	if c, _ := check(t, authz, "GET", "/nope"); c != codeDenied {
		t.Errorf("after the NACK, /nope: code %d, want a deny by revision 2", c)
	}
	if got := ta.Authz().Revisions()["shop/paths"]; got != v2.Revision() {
		t.Errorf("deciding revision %s, want %s", got, v2.Revision())
	}

	// A dry-run policy that denies everything only logs would-deny.
	audit := compilePolicy(t, "shop/audit", "default allow := false", dryRunMode)
	ps.set(t, "web-1.shop", "v4", policyResource(t, "shop/audit", audit), policyResource(t, "shop/paths", v2))
	ps.answer(t, false, "v4")
	if c, _ := check(t, authz, "GET", "/ok"); c != codeOK {
		t.Errorf("with the dry-run policy, /ok: code %d, want OK", c)
	}
	if c, _ := check(t, authz, "GET", "/nope"); c != codeDenied {
		t.Errorf("with the dry-run policy, /nope: code %d, want a deny by shop/paths", c)
	}
	poll.UntilState(t, "the would-deny log line", func() (bool, string) {
		return len(lines(logs.String(), `"decision":"would-deny"`, `"policy":"shop/audit"`, `"dry_run":true`)) >= 2, "the log:\n" + logs.String()
	})
	if l := lines(logs.String(), `"decision":"would-deny"`)[0]; !strings.Contains(l, `"x-request-id":"req-1"`) ||
		strings.Contains(l, "s3cret") || !strings.Contains(l, `"@module":"authz"`) {
		t.Errorf("decision log %s: want the authz logger, x-request-id's value and authorization redacted", l)
	}

	// A policy whose only revision fails to load denies everything.
	brokenRaw, _ := bundletest.Forge(t, compilePolicy(t, "shop/broken", "default allow := true"), "package envoy.authz\n\nallow if no_such_function(1)")
	ps.set(t, "web-1.shop", "v5", rawPolicyResource(t, "shop/broken", brokenRaw), policyResource(t, "shop/paths", v2))
	if msg := ps.answer(t, true, "v5").GetErrorDetail().GetMessage(); !strings.Contains(msg, "shop/broken") {
		t.Errorf("NACK %q does not name shop/broken", msg)
	}
	if c, _ := check(t, authz, "GET", "/ok"); c != codeDenied {
		t.Errorf("with a policy that never loaded, /ok: code %d, want a deny", c)
	}

	// Nothing targets the workload any more: nothing to enforce.
	ps.set(t, "web-1.shop", "v6")
	ps.answer(t, false, "v6")
	if c, _ := check(t, authz, "GET", "/nope"); c != codeOK {
		t.Errorf("with no policy, /nope: code %d, want OK", c)
	}
	if n := len(ta.Authz().Revisions()); n != 0 {
		t.Errorf("%d policies still loaded", n)
	}
}

// The stats file counts each policy's decisions and says which revision
// decides and why the last one failed.
func TestAuthzStatsFile(t *testing.T) {
	ps, ta, authz := startAuthzAgent(t, newFakeCP(t, time.Hour), nil)
	check(t, authz, "GET", "/ok") // denied: nothing received yet
	good := compilePolicy(t, "shop/paths", pathsOK)
	audit := compilePolicy(t, "shop/audit", "default allow := false", dryRunMode)
	ps.set(t, "web-1.shop", "v1", policyResource(t, "shop/audit", audit), policyResource(t, "shop/paths", good))
	ps.answer(t, false, "v1")
	check(t, authz, "GET", "/ok")
	check(t, authz, "GET", "/nope")
	check(t, authz, "GET", "/nope")
	badRaw, _ := bundletest.Forge(t, good, "package envoy.authz\n\nallow if no_such_function(1)")
	ps.set(t, "web-1.shop", "v2", policyResource(t, "shop/audit", audit), rawPolicyResource(t, "shop/paths", badRaw))
	ps.answer(t, true, "v2")

	want := AuthzStats{Synced: true, DeniedUnsynced: 1, Policies: []PolicyStats{
		{Policy: "shop/audit", Revision: audit.Revision()},
		{Policy: "shop/paths", Revision: good.Revision()},
	}}
	want.Policies[0].Allow, want.Policies[0].WouldDeny = 0, 3
	want.Policies[1].Allow, want.Policies[1].Deny = 1, 2
	var got AuthzStats
	poll.UntilState(t, "the stats file with two policies, the second failing to load", func() (bool, string) {
		raw, err := os.ReadFile(ta.path(AuthzStatsFile))
		if err != nil {
			return false, err.Error()
		}
		got = AuthzStats{}
		ok := json.Unmarshal(raw, &got) == nil && len(got.Policies) == 2 && got.Policies[1].LoadError != ""
		return ok, string(raw)
	})
	if !strings.Contains(got.Policies[1].LoadError, "no_such_function") {
		t.Errorf("load error %q", got.Policies[1].LoadError)
	}
	got.Time, got.Policies[1].LoadError = time.Time{}, ""
	if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
		t.Errorf("stats\n got %s\nwant %s", g, w)
	}
	if fi, err := os.Stat(ta.path(AuthzStatsFile)); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("stats file: %v %v, want mode 0640", fi, err)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// The stream reconnects with backoff when the control plane goes away,
// and at once, with the new SVID, after a rotation.
func TestPolicyClientReconnects(t *testing.T) {
	ps := startPolicyServer(t)
	dialled := make(chan *Identity, 100)
	ta := startAgent(t, newFakeCP(t, 2*time.Second), func(c *Config) {
		c.Authz = &AuthzConfig{Dial: func(ctx context.Context, id *Identity) (*grpc.ClientConn, error) {
			dialled <- id
			return ps.dial(ctx, id)
		}}
	})
	first := <-dialled
	if first.SVID == nil {
		t.Fatal("the first stream was dialled without an SVID")
	}
	// The 2s SVID rotates after about 1s; the stream is dialled again
	// with the new one.
	select {
	case next := <-dialled:
		if next.SVID == nil || next.SVID == first.SVID || next.SVID.Certificates[0].Equal(first.SVID.Certificates[0]) {
			t.Fatal("the stream was dialled again without the rotated SVID")
		}
		if cur := ta.Manager().Current(); cur.SVID != next.SVID {
			t.Error("the stream was dialled with an SVID that is not the current one")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no new stream within 10s of a 2s SVID")
	}
	for range 2 {
		select {
		case <-ps.opened:
		case <-time.After(10 * time.Second):
			t.Fatal("the server saw fewer than two streams")
		}
	}
}
