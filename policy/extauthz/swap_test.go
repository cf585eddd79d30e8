package extauthz

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"

	"embassy.dev/embassy/internal/bundletest"
	"embassy.dev/embassy/pkg/resource"
	"embassy.dev/embassy/policy/compile"
)

// revisionPolicy marks every field of its result with revision n, half of
// them from the module and half from data, so a request decided by a
// mixture of two revisions would show two markers.
func revisionPolicy(t *testing.T, n int) *compile.Bundle {
	t.Helper()
	rego := fmt.Sprintf(`package envoy.authz

rev := "%d"

allow := {
	"allowed": true,
	"headers": {"x-rev": rev, "x-data-rev": data.rev},
	"response_headers_to_add": {"x-rev": rev},
	"query_parameters_to_set": {"rev": data.rev},
	"dynamic_metadata": {"rev": rev, "data_rev": data.rev},
}
`, n)
	b, err := compile.Compile("default/swap", &resource.AuthorizationPolicySpec{
		Modules: []resource.RegoModule{{Name: "swap.rego", Rego: rego}},
		Data:    json.RawMessage(fmt.Sprintf(`{"rev": "%d"}`, n)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAtomicSwapUnderLoad(t *testing.T) {
	const revisions, workers, maxRequests, minRequests = 25, 4, 2000, 100
	const badAfter = 12 // this revision's successor fails to load

	bundles := make([]*compile.Bundle, revisions+1)
	for n := 1; n <= revisions; n++ {
		bundles[n] = revisionPolicy(t, n)
	}
	bad := bundletest.ForgeBundle(t, bundles[badAfter], "package envoy.authz\n\nallow := {\"allowed\": true, \"headers\": {\"x-rev\": \"bad\"}} if {\n")

	e := load(t, bundles[1])
	client, _ := serve(t, e, Options{})

	loaderDone := make(chan struct{})
	var loadErr error
	go func() {
		defer close(loaderDone)
		for n := 2; n <= revisions; n++ {
			if err := e.Load(bundles[n]); err != nil {
				loadErr = err
				return
			}
			if n == badAfter {
				err := e.Load(bad)
				var errs compile.Errors
				if !errors.As(err, &errs) || errs[0].File != "swap.rego" {
					loadErr = fmt.Errorf("bad bundle: Load returned %v", err)
					return
				}
				if got := e.Revision(); got != bundles[badAfter].Revision() {
					loadErr = fmt.Errorf("after a failed load the revision is %s, want %s", got, bundles[badAfter].Revision())
					return
				}
			}
		}
	}()

	var wg sync.WaitGroup
	seen := make([]map[int]int, workers)
	errs := make(chan error, workers)
	for w := range workers {
		seen[w] = map[int]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := 0
			for i := range maxRequests {
				if i >= minRequests {
					select {
					case <-loaderDone:
						return
					default:
					}
				}
				resp, err := client.Check(t.Context(), httpRequest("GET", "/", nil, ""))
				if err != nil {
					errs <- err
					return
				}
				rev, err := oneRevision(resp)
				if err != nil {
					errs <- err
					return
				}
				if rev < last {
					errs <- fmt.Errorf("revision went back from %d to %d", last, rev)
					return
				}
				last = rev
				seen[w][rev]++
			}
		}()
	}
	wg.Wait()
	<-loaderDone
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	if got := e.Revision(); got != bundles[revisions].Revision() {
		t.Errorf("final revision %s, want %s", got, bundles[revisions].Revision())
	}
	distinct := map[int]bool{}
	for _, s := range seen {
		for rev := range s {
			distinct[rev] = true
		}
	}
	t.Logf("responses saw %d of %d revisions", len(distinct), revisions)
	// The final revision serves after the loader finished; every worker
	// ends on it or on one before.
	resp := check(t, client, httpRequest("GET", "/", nil, ""))
	if rev, err := oneRevision(resp); err != nil || rev != revisions {
		t.Errorf("after loading: revision %d, %v", rev, err)
	}
}

// oneRevision checks that every marker in resp names the same revision and
// returns it.
func oneRevision(resp *authv3.CheckResponse) (int, error) {
	if resp.GetStatus().GetCode() != int32(code.Code_OK) {
		return 0, fmt.Errorf("denied: %v", resp)
	}
	ok := resp.GetOkResponse()
	var markers []string
	for _, h := range ok.GetHeaders() {
		markers = append(markers, h.GetHeader().GetValue())
	}
	for _, h := range ok.GetResponseHeadersToAdd() {
		markers = append(markers, h.GetHeader().GetValue())
	}
	for _, q := range ok.GetQueryParametersToSet() {
		markers = append(markers, q.GetValue())
	}
	md := resp.GetDynamicMetadata().AsMap()
	markers = append(markers, fmt.Sprint(md["rev"]), fmt.Sprint(md["data_rev"]))
	if len(markers) != 6 {
		return 0, fmt.Errorf("%d markers in %v", len(markers), resp)
	}
	for _, m := range markers[1:] {
		if m != markers[0] {
			return 0, fmt.Errorf("mixed revisions %v", markers)
		}
	}
	return strconv.Atoi(markers[0])
}
