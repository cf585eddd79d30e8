package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/open-policy-agent/opa/v1/util"
	"google.golang.org/protobuf/proto"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
	"embassy.dev/embassy/policy/extauthz"
)

// authzChildEnv makes this test binary serve embassy's Check as the
// bench's child process, as embassy-bench --authz-child does.
const authzChildEnv = "EMBASSY_BENCH_AUTHZ_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(authzChildEnv) == "1" {
		if err := ServeAuthzChild(context.Background(), os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func testChild() *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), authzChildEnv+"=1")
	return cmd
}

// fakeOPA is a loopback HTTP server speaking OPA's data API, deciding with
// an engine of whichever of the bench's policies the input is for.
func fakeOPA(t *testing.T) *httptest.Server {
	engines := map[string]*engine.Engine{}
	for name, pc := range map[string][2]string{"jwt": {authzPolicy, string(authzData)}, "callers": {callersPolicy, string(callersData())}} {
		b, err := compile.Compile("bench/fake-"+name, &resource.AuthorizationPolicySpec{
			Modules: []resource.RegoModule{{Name: "policy.rego", Rego: pc[0]}}, Data: json.RawMessage(pc[1]),
		})
		if err != nil {
			t.Fatal(err)
		}
		engines[name] = engine.New()
		if err := engines[name].Load(b); err != nil {
			t.Fatal(err)
		}
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != opaDecisionPath {
			http.NotFound(w, r)
			return
		}
		var body struct {
			Input map[string]any `json:"input"`
		}
		if err := util.NewJSONDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e := engines["jwt"]
		if id, _ := body.Input["attributes"].(map[string]any)["source"].(map[string]any)["principal"].(string); strings.Contains(id, "caller-") {
			e = engines["callers"]
		}
		d, err := e.Decide(r.Context(), body.Input)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"result": d.Allowed})
	}))
}

// TestMeasureAuthzSmoke runs the authorization section at a tiny size:
// embassy in a child process, the peer a fake OPA server, so every path
// but starting a peer binary runs, and both sides must agree on every
// call in every round.
func TestMeasureAuthzSmoke(t *testing.T) {
	fake := fakeOPA(t)
	defer fake.Close()
	const calls, rounds = 200, 3
	profiles := filepath.Join(t.TempDir(), "embassy")
	rep, err := MeasureAuthz(t.Context(), AuthzConfig{Calls: calls, Duration: 10 * time.Second, Rounds: rounds, Clients: []int{2}, CacheSize: 100, Child: testChild, opaURL: fake.URL, CPUProfiles: profiles})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 50 || rep.Allowed == 0 || rep.Allowed == rep.Requests || len(rep.Scenarios) != 3 {
		t.Fatalf("%d requests, %d allowed, %d scenarios", rep.Requests, rep.Allowed, len(rep.Scenarios))
	}
	for _, sc := range rep.Scenarios {
		for _, side := range []AuthzSide{sc.Embassy, sc.Peer} {
			if side.Calls != calls*rounds || side.Mismatches != 0 || side.P50 <= 0 || side.P50 > side.P99 || side.PerSecond() <= 0 {
				t.Errorf("%s: implausible side %+v", sc.Name, side.AuthzRow)
			}
		}
		if sc.Disagreements != 0 || sc.Embassy.CPUPerCall() < 0 {
			t.Errorf("%s: %d disagreements, embassy CPU %v", sc.Name, sc.Disagreements, sc.Embassy.CPU)
		}
	}
	if c := rep.Scenarios[2].Cache; c == nil || !c.Cacheable || c.Hits < calls*rounds-callerCount {
		t.Errorf("cache scenario: %+v", c)
	}
	if rep.Scenarios[0].Cache != nil || rep.Scenarios[1].Cache != nil {
		t.Error("a no-cache scenario ran with the cache")
	}
	for i := range rep.Scenarios {
		if fi, err := os.Stat(fmt.Sprintf("%s-%d.prof", profiles, i+1)); err != nil || fi.Size() == 0 {
			t.Errorf("scenario %d wrote no CPU profile: %v", i+1, err)
		}
	}
	f := rep.Footprint
	if f.JWTPolicyHeap <= 0 || f.CallersPolicyHeap <= 0 || f.CacheEntryHeap <= 0 || f.Baseline.Calls != calls || f.Swapping.Calls != calls {
		t.Errorf("footprint %+v", f)
	}
	var out bytes.Buffer
	if err := WriteAuthzTable(&out, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"JWT and path, no cache", "50 callers and paths, cache", "cache hit ratio", "server CPU/call",
		"disagree on 0 requests", "OPA-compatible test server", "did not run (--authz-peer)", "heap per loaded policy revision", "revision swaps under load"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("\n%s", out.String())
}

// TestMeasureAuthzWithoutPeer reports the comparison as skipped, with
// the reason, and still measures embassy.
func TestMeasureAuthzWithoutPeer(t *testing.T) {
	rep, err := MeasureAuthz(t.Context(), AuthzConfig{Calls: 50, Duration: 5 * time.Second, Rounds: 1, Clients: []int{1}, Child: testChild, OPASkipped: "opa is not installed"})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteAuthzTable(&out, rep); err != nil {
		t.Fatal(err)
	}
	if rep.Scenarios[0].Embassy.Calls != 50 || !strings.Contains(out.String(), "skipped: opa is not installed") || !strings.Contains(out.String(), "targets: not checked") {
		t.Fatalf("calls %d, table:\n%s", rep.Scenarios[0].Embassy.Calls, out.String())
	}
}

// TestCacheAgreesOnBenchRequests asks both policies' requests of servers
// with and without the decision cache, each twice, and requires the same
// answers, decision ids aside.
func TestCacheAgreesOnBenchRequests(t *testing.T) {
	for _, pc := range []authzPolicyCase{
		{policy: authzPolicy, data: authzData, reqs: authzRequests(time.Now())},
		{policy: callersPolicy, data: callersData(), reqs: callerRequests()},
	} {
		cached, err := benchServer(pc, 16)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := benchServer(pc, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkWithoutID(t, cached, pc.reqs[0].req)
		if err := waitCacheReady(func() (*extauthz.CacheStats, error) { return cached.CacheStats(), nil }); err != nil {
			t.Fatal(err)
		}
		for _, r := range pc.reqs {
			want := checkWithoutID(t, plain, r.req)
			for range 2 {
				if got := checkWithoutID(t, cached, r.req); !proto.Equal(got, want) {
					t.Errorf("%s:\n cached   %v\n uncached %v", r.name, got, want)
				}
			}
		}
		if st := cached.CacheStats(); st.Cacheable && st.Hits < uint64(len(pc.reqs)) {
			t.Errorf("cacheable, yet %d hits of %d requests asked twice", st.Hits, len(pc.reqs))
		}
	}
}

func checkWithoutID(t *testing.T, s interface {
	Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error)
}, req *authv3.CheckRequest) *authv3.CheckResponse {
	t.Helper()
	resp, err := s.Check(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	delete(resp.GetDynamicMetadata().GetFields(), "decision_id")
	return resp
}
