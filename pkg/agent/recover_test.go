package agent

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"embassy.dev/embassy/pkg/identity/wire"
)

// A 3s SVID expires while the control plane is cut off. Once it is back,
// the used single-use token in the file is refused again and again, and a
// token for another identity brings an SVID the agent refuses; a new token
// for the agent's identity written to the file makes it re-attest, serve
// the same SPIFFE ID again and renew it over mTLS. The operator is told
// once, naming the file and the expiry; the tokens are never printed.
func TestReattestsWithANewTokenAfterExpiry(t *testing.T) {
	cp := startRealCP(t, "3s")
	g := newGate(t, cp.addr)
	tokenFile := filepath.Join(tokenDir(t), "web-1.token")
	used := createToken(t, cp, "web", true)
	writeToken(t, tokenFile, used)
	dir := shortTempDir(t)
	a := startCPAgent(t, cp, g.addr(), dir, tokenFile)
	first := a.Manager().Current()
	want := spiffeid.RequireFromString("spiffe://example.org/ns/shop/sa/web")
	if first.ID != want {
		t.Fatalf("attested as %s", first.ID)
	}
	g.setOpen(false)

	waitIdentity(t, a.Manager(), 10*time.Second, "withheld SVID", func(id *Identity) bool { return id.SVID == nil })
	notice := "SVID serial " + serialOfSVID(first) + " expired at " + leafOf(first).NotAfter.UTC().Format(time.RFC3339) +
		" and cannot be renewed; write a new join token to " + tokenFile +
		" (embassyctl token create --namespace shop --service-account web --workload web-1 > " + tokenFile + ") and the agent re-attests"
	waitText(t, a.out, 5*time.Second, "notice naming the token file", func(s string) bool { return strings.Contains(s, notice) })
	waitText(t, a.log, 5*time.Second, "notice in the log", func(s string) bool { return strings.Contains(s, notice) })

	// Back, with the used token still in the file: refused, and said so
	// at every retry, without an SVID.
	g.setOpen(true)
	waitText(t, a.log, 10*time.Second, "three refusals of the used token", func(s string) bool {
		return strings.Count(s, "re-attestation refused; waiting for a new join token") >= 3
	})
	if a.Manager().Current().SVID != nil {
		t.Fatal("recovered with the used token")
	}

	// A token for another identity: its SVID is refused by the agent.
	other := createToken(t, cp, "other", true)
	writeToken(t, tokenFile, other)
	waitText(t, a.out, 10*time.Second, "refusal of another identity", func(s string) bool {
		return strings.Contains(s, "the join token is for spiffe://example.org/ns/shop/sa/other, not for "+want.String())
	})
	if tokenUses(t, cp, other) != 1 || a.Manager().Current().SVID != nil {
		t.Fatal("the SVID of another identity was taken")
	}

	// A new token for the agent's identity.
	writeToken(t, tokenFile, createToken(t, cp, "web", true))
	written := time.Now()
	back := waitIdentity(t, a.Manager(), 10*time.Second, "re-attested SVID", func(id *Identity) bool { return id.SVID != nil })
	t.Logf("re-attested %s after the new token was written", time.Since(written).Round(time.Millisecond))
	if back.ID != want || back.SVID.ID != want || leafOf(back).Equal(leafOf(first)) {
		t.Fatalf("re-attested as %s", back.SVID.ID)
	}
	c := newWorkloadClient(t, &testAgent{dir: dir})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	svid, err := c.FetchX509SVID(ctx)
	if err != nil || svid.ID != want || !svid.Certificates[0].Equal(leafOf(back)) {
		t.Fatalf("the Workload API serves %v, %v", svid, err)
	}
	// The re-attested SVID renews over mTLS like any other.
	waitText(t, a.out, 10*time.Second, "rotation after the re-attestation", func(s string) bool {
		_, after, _ := strings.Cut(s, "re-attested as "+want.String())
		return strings.Contains(after, "rotated SVID serial")
	})

	out, log := a.out.String(), a.log.String()
	if n := strings.Count(out, "cannot be renewed"); n != 1 {
		t.Fatalf("the notice was printed %d times:\n%s", n, out)
	}
	for _, secret := range []string{used, other, strings.Split(used, ".")[2]} {
		if strings.Contains(out, secret) || strings.Contains(log, secret) {
			t.Fatal("a join token was printed or logged")
		}
	}
}

// A token the control plane refused is presented again only after the
// file changes, or after MaxBackoff; a token not presented yet goes at
// once, and the poll of the file presents only new tokens.
func TestRefusedTokenIsNotPresentedAgain(t *testing.T) {
	cp := newFakeCP(t, time.Minute)
	cp.refuse = status.Error(codes.PermissionDenied, "join token refused: it was used")
	tokenFile := filepath.Join(tokenDir(t), "token")
	m := NewManager(ManagerConfig{ControlPlane: cp, TokenFile: tokenFile, Workload: "web-1", MaxBackoff: time.Hour})
	r := &recovery{want: testID}
	presented := func() []string {
		var tokens []string
		for _, req := range cp.requests() {
			if a, ok := req.(*wire.AttestRequest); ok {
				tokens = append(tokens, a.Token)
			}
		}
		return tokens
	}
	ctx := context.Background()

	if svid, _ := m.reattest(ctx, r, false); svid != nil || len(presented()) != 0 {
		t.Fatal("presented a token while the file is missing")
	}
	writeToken(t, tokenFile, "emb1.0123456789abcdef."+strings.Repeat("A", 43))
	for range 5 {
		m.reattest(ctx, r, false)
		m.reattest(ctx, r, true)
	}
	if n := len(presented()); n != 1 {
		t.Fatalf("a refused token was presented %d times, want once", n)
	}
	writeToken(t, tokenFile, "emb1.0123456789abcdef."+strings.Repeat("B", 43))
	m.reattest(ctx, r, true)
	m.reattest(ctx, r, false)
	if n := len(presented()); n != 2 {
		t.Fatalf("%d presentations after the file changed, want 2", n)
	}

	// Unreachable: the same token is tried again with the renewals, but
	// not by the poll.
	cp.refuse = nil
	cp.setDown(true)
	writeToken(t, tokenFile, "emb1.0123456789abcdef."+strings.Repeat("C", 43))
	m.reattest(ctx, r, true)
	m.reattest(ctx, r, true)
	m.reattest(ctx, r, false)
	if n := len(presented()); n != 4 {
		t.Fatalf("%d presentations, want 4", n)
	}
	if slices.ContainsFunc(presented(), func(s string) bool { return !strings.Contains(s, "emb1.0123456789abcdef.") }) {
		t.Fatal("presented something else than the file's tokens")
	}
}
