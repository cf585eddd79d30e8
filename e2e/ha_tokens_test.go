package e2e

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/identity/wire"
)

// TestAJoinTokenRaceOnThreeReplicasIssuesOneSVID redeems one single-use
// join token on three embassy-cp replicas of one etcd cluster at once:
// exactly one SVID is issued, the others are refused as used. The three
// replicas started together on the empty store serve one CA.
func TestAJoinTokenRaceOnThreeReplicasIssuesOneSVID(t *testing.T) {
	rs := startReplicas(t, 3)
	_, roots := caRoots(t, rs.cps[0])
	for i, cp := range rs.cps[1:] {
		if _, got := caRoots(t, cp); strings.Join(got, ",") != strings.Join(roots, ",") {
			t.Fatalf("replica r%d serves CA roots %v, r0 serves %v: replicas started together made more than one CA", i+1, got, roots)
		}
	}
	bundlePEM := rs.cps[0].ctlStdout(t, "bundle")
	for round := range 3 {
		// The token is made on a different replica each round.
		token := strings.TrimSpace(rs.cps[round].ctlStdout(t, "token", "create", "--namespace", "default", "--service-account", "web", "--single-use"))
		errs := make([]error, len(rs.cps))
		var wg sync.WaitGroup
		for i, cp := range rs.cps {
			c := dialIdentity(t, cp.xds, bundlePEM)
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, errs[i] = c.Attest(ctx, &wire.AttestRequest{Token: token, Csr: csrFor(t, ""), Workload: "web-1"})
			})
		}
		wg.Wait()
		issued := 0
		for i, err := range errs {
			switch {
			case err == nil:
				issued++
			case status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "already used"):
				t.Errorf("round %d: r%d refused with %v, want PermissionDenied saying the token was already used", round, i, err)
			}
		}
		if issued != 1 {
			t.Fatalf("round %d: one single-use token raced on 3 replicas issued %d SVIDs, want 1 (errors %v)", round, issued, errs)
		}
	}
}
