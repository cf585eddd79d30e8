package extauthz

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"embassy.dev/embassy/policy/compile"
	"embassy.dev/embassy/policy/engine"
)

// peerFile is where a corpus policy keeps the OPA-Envoy plugin's answers
// to its cases, recorded by peer_record_test.go.
const peerFile = "peer.json"

// peerAnswers are the plugin's answers to one policy's cases, in order.
type peerAnswers struct {
	// Peer names what answered, and how it was run.
	Peer    string       `json:"peer"`
	Answers []peerAnswer `json:"answers"`
}

// peerAnswer is the plugin's answer to one case.
type peerAnswer struct {
	Name string `json:"name"`
	// Response is the CheckResponse in protojson, decision_id "*".
	Response json.RawMessage `json:"response,omitempty"`
	// Error is the gRPC error the plugin returned instead, when its
	// policy failed: Envoy then decides by its failure_mode_allow.
	Error string `json:"error,omitempty"`
}

// peerComparable returns resp with its random decision_id made "*" and its
// header lists sorted: the plugin orders headers by map iteration, so
// only their multiset is its answer.
func peerComparable(t testing.TB, resp *authv3.CheckResponse) *authv3.CheckResponse {
	t.Helper()
	resp = proto.Clone(resp).(*authv3.CheckResponse)
	md := resp.GetDynamicMetadata().GetFields()
	if id := md["decision_id"].GetStringValue(); id == "" {
		t.Errorf("no decision_id in %v", resp)
	} else {
		md["decision_id"] = structpb.NewStringValue("*")
	}
	if ok := resp.GetOkResponse(); ok != nil {
		sortHeaders(ok.Headers)
		sortHeaders(ok.ResponseHeadersToAdd)
	}
	if d := resp.GetDeniedResponse(); d != nil {
		sortHeaders(d.Headers)
	}
	return resp
}

func sortHeaders(hs []*corev3.HeaderValueOption) {
	sort.SliceStable(hs, func(i, j int) bool {
		a, b := hs[i].GetHeader(), hs[j].GetHeader()
		return a.GetKey() < b.GetKey() || a.GetKey() == b.GetKey() && a.GetValue() < b.GetValue()
	})
}

// TestAnswersMatchPeer holds the agent's answers to the OPA-Envoy plugin's,
// recorded from the plugin itself: the same gRPC status, the same kind of
// HTTP response (none for a boolean decision), and in it the same denied
// status, headers, headers to remove, response headers, query edits and
// body, and the same dynamic metadata. Where the plugin's policy failed
// and it returned an error, the agent instead answers by the policy's
// failure mode (fail closed unless failureMode is allow), so Envoy's
// failure_mode_allow never decides. A request neither can parse is denied
// with 400 by both, each with its own words for why.
func TestAnswersMatchPeer(t *testing.T) { matchPeer(t, Options{}, nil) }

// matchPeer asks a server with options o every corpus case, twice when
// it caches, and requires the plugin's answers; each, when set, is
// called after each case.
func matchPeer(t *testing.T, o Options, each func(srv *Server, b *compile.Bundle, req *authv3.CheckRequest)) {
	t.Helper()
	asks := 1
	if o.CacheSize > 0 {
		asks = 2
	}
	files, err := filepath.Glob(filepath.Join(corpusDir, "*", peerFile))
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for _, f := range files {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			spec, cf := readCorpus(t, dir)
			var pa peerAnswers
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &pa); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(pa.Answers) != len(cf.Cases) {
				t.Fatalf("%s has %d answers for %d cases: record it again", f, len(pa.Answers), len(cf.Cases))
			}
			b, err := compile.Compile("corpus/"+filepath.Base(dir), spec)
			if err != nil {
				t.Fatal(err)
			}
			client, srv := serve(t, engine.New(), o)
			if err := srv.Load(b); err != nil {
				t.Fatal(err)
			}
			for i, c := range cf.Cases {
				a := pa.Answers[i]
				if a.Name != c.Name {
					t.Fatalf("answer %d is for %q, case is %q: record it again", i, a.Name, c.Name)
				}
				var req authv3.CheckRequest
				if err := protojson.Unmarshal(c.Request, &req); err != nil {
					t.Fatal(err)
				}
				for range asks {
					compared += answerMatches(t, c.Name, spec.FailureMode, a, peerComparable(t, check(t, client, &req)))
				}
				if each != nil {
					each(srv, b, &req)
				}
			}
		})
	}
	if compared < 60 {
		t.Errorf("compared %d answers with the plugin's, want at least 60", compared)
	}
	t.Logf("%d answers equal the plugin's", compared)
}

// answerMatches checks the agent's answer got to one case against the
// plugin's; it returns 1 when it compared them field by field.
func answerMatches(t *testing.T, name, failureMode string, a peerAnswer, got *authv3.CheckResponse) int {
	t.Helper()
	if a.Error != "" {
		wantFailureMode(t, name, failureMode, got)
		return 0
	}
	var want authv3.CheckResponse
	if err := protojson.Unmarshal(a.Response, &want); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if want.GetDeniedResponse().GetStatus().GetCode() == http.StatusBadRequest {
		// Each refuses a request it cannot parse with 400, in its own words.
		if got.GetStatus().GetCode() != want.GetStatus().GetCode() || EnvoyStatus(got) != http.StatusBadRequest {
			t.Errorf("%s: the plugin refused the request with 400, the agent answered %v", name, got)
		}
		return 0
	}
	if !proto.Equal(got, peerComparable(t, &want)) {
		t.Errorf("%s:\n agent  %s\n plugin %s", name, protojson.Format(got), protojson.Format(&want))
	}
	return 1
}

// wantFailureMode checks the answer to a request whose evaluation failed.
func wantFailureMode(t *testing.T, name, mode string, got *authv3.CheckResponse) {
	t.Helper()
	want := 403
	if mode == string(compile.FailureAllow) {
		want = 200
	}
	if EnvoyStatus(got) != want {
		t.Errorf("%s: the plugin's policy failed; the agent answered %d, want %d (failure mode %q)", name, EnvoyStatus(got), want, mode)
	}
}
