package extauthz

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/protobuf/encoding/protojson"

	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
)

// corpusDir holds one directory per policy: policy.rego, an optional
// data.json, and cases.json with spec overrides and CheckRequests with
// the responses they must get.
const corpusDir = "../testdata/corpus"

type corpusFile struct {
	Spec  resource.AuthorizationPolicySpec `json:"spec"`
	Cases []struct {
		Name    string          `json:"name"`
		Request json.RawMessage `json:"request"`
		Want    outcome         `json:"want"`
	} `json:"cases"`
}

// outcome is the part of a CheckResponse a case asserts, flattened.
type outcome struct {
	Allowed              bool              `json:"allowed"`
	Status               int               `json:"status,omitempty"`
	Headers              map[string]string `json:"headers,omitempty"`
	Body                 string            `json:"body,omitempty"`
	BodyContains         string            `json:"bodyContains,omitempty"`
	HeadersToRemove      []string          `json:"headersToRemove,omitempty"`
	ResponseHeadersToAdd map[string]string `json:"responseHeadersToAdd,omitempty"`
	QueryToRemove        []string          `json:"queryToRemove,omitempty"`
	QueryToSet           map[string]string `json:"queryToSet,omitempty"`
	Metadata             map[string]any    `json:"metadata,omitempty"`
}

func flatten(t *testing.T, resp *authv3.CheckResponse) outcome {
	t.Helper()
	var o outcome
	o.Allowed = resp.GetStatus().GetCode() == int32(code.Code_OK)
	if ok := resp.GetOkResponse(); ok != nil {
		if !o.Allowed {
			t.Errorf("OkResponse with status %v", resp.GetStatus())
		}
		o.Headers = headerMap(ok.GetHeaders())
		o.HeadersToRemove = ok.GetHeadersToRemove()
		o.ResponseHeadersToAdd = headerMap(ok.GetResponseHeadersToAdd())
		o.QueryToRemove = ok.GetQueryParametersToRemove()
		for _, p := range ok.GetQueryParametersToSet() {
			if o.QueryToSet == nil {
				o.QueryToSet = map[string]string{}
			}
			o.QueryToSet[p.GetKey()] = p.GetValue()
		}
	}
	if d := resp.GetDeniedResponse(); d != nil {
		if o.Allowed {
			t.Errorf("DeniedResponse with status OK")
		}
		o.Status = int(d.GetStatus().GetCode())
		o.Headers = headerMap(d.GetHeaders())
		o.Body = d.GetBody()
	}
	if resp.GetHttpResponse() == nil && !o.Allowed {
		o.Status = EnvoyStatus(resp)
	}
	md := resp.GetDynamicMetadata().AsMap()
	if id, _ := md["decision_id"].(string); len(id) != 24 {
		t.Errorf("decision_id %q", md["decision_id"])
	}
	delete(md, "decision_id")
	if len(md) > 0 {
		o.Metadata = md
	}
	return o
}

func headerMap(hs []*corev3.HeaderValueOption) map[string]string {
	if len(hs) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, h := range hs {
		k, v := h.GetHeader().GetKey(), h.GetHeader().GetValue()
		if old, ok := m[k]; ok {
			v = old + "," + v
		}
		m[k] = v
	}
	return m
}

func readCorpus(t *testing.T, dir string) (*resource.AuthorizationPolicySpec, corpusFile) {
	t.Helper()
	var cf corpusFile
	raw, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &cf); err != nil {
		t.Fatal(err)
	}
	rego, err := os.ReadFile(filepath.Join(dir, "policy.rego"))
	if err != nil {
		t.Fatal(err)
	}
	spec := cf.Spec
	spec.Modules = []resource.RegoModule{{Name: "policy.rego", Rego: string(rego)}}
	if data, err := os.ReadFile(filepath.Join(dir, "data.json")); err == nil {
		spec.Data = data
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return &spec, cf
}

func TestCorpus(t *testing.T) {
	dirs, err := os.ReadDir(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	policies, cases := 0, 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		policies++
		t.Run(d.Name(), func(t *testing.T) {
			spec, cf := readCorpus(t, filepath.Join(corpusDir, d.Name()))
			b, err := compile.Compile("corpus/"+d.Name(), spec)
			if err != nil {
				t.Fatal(err)
			}
			client, _ := serve(t, load(t, b), Options{})
			if len(cf.Cases) < 2 {
				t.Fatalf("%d cases: every policy needs an allow and a deny", len(cf.Cases))
			}
			for _, c := range cf.Cases {
				cases++
				var req authv3.CheckRequest
				if err := protojson.Unmarshal(c.Request, &req); err != nil {
					t.Fatalf("%s: request: %v", c.Name, err)
				}
				got := flatten(t, check(t, client, &req))
				want := c.Want
				if !want.Allowed && want.Status == 0 {
					want.Status = 403
				}
				if want.BodyContains != "" {
					if !strings.Contains(got.Body, want.BodyContains) {
						t.Errorf("%s: body %q lacks %q", c.Name, got.Body, want.BodyContains)
					}
					want.BodyContains, got.Body = "", ""
				}
				gj, _ := json.Marshal(got)
				wj, _ := json.Marshal(want)
				if string(gj) != string(wj) {
					t.Errorf("%s:\n got  %s\n want %s", c.Name, gj, wj)
				}
			}
		})
	}
	if policies < 15 {
		t.Errorf("corpus has %d policies, want at least 15", policies)
	}
	t.Logf("%d policies, %d cases", policies, cases)
}
