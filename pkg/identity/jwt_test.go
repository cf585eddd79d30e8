package identity

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"

	"embassy.dev/embassy/pkg/store"
)

func TestMintJWTValidatesWithGoSPIFFE(t *testing.T) {
	// go-spiffe checks exp and iat against the real clock.
	ca, err := LoadOrCreateCA(store.NewMemory(), CAConfig{}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	id := mustID(t, "shop", "a")
	tok, exp, err := ca.MintJWT(id, []string{"billing"}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := ca.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := jwtbundle.Parse(ca.TrustDomain(), jwks)
	if err != nil {
		t.Fatalf("JWKS does not parse as a JWT bundle: %v", err)
	}
	svid, err := jwtsvid.ParseAndValidate(tok, bundle, []string{"billing"})
	if err != nil {
		t.Fatalf("go-spiffe refuses the JWT-SVID: %v", err)
	}
	if svid.ID != id || !slices.Equal(svid.Audience, []string{"billing"}) || !svid.Expiry.Equal(exp) {
		t.Fatalf("JWT-SVID %v %v %v, want %v [billing] %v", svid.ID, svid.Audience, svid.Expiry, id, exp)
	}
	if _, err := jwtsvid.ParseAndValidate(tok, bundle, []string{"other"}); err == nil {
		t.Fatal("a JWT-SVID for billing validated for another audience")
	}
	header, claims := jwtParts(t, tok)
	if header["alg"] != "ES256" || header["kid"] == "" {
		t.Fatalf("JWT header %v, want alg ES256 and a kid", header)
	}
	for _, c := range []string{"sub", "aud", "exp", "iat"} {
		if _, ok := claims[c]; !ok {
			t.Errorf("JWT lacks claim %q", c)
		}
	}
	// The CA is a jwtbundle.Source itself.
	if _, err := jwtsvid.ParseAndValidate(tok, ca, []string{"billing"}); err != nil {
		t.Fatal(err)
	}

	if _, _, err := ca.MintJWT(id, nil, time.Minute); err == nil {
		t.Error("a JWT-SVID without an audience was minted")
	}
	if _, _, err := ca.MintJWT(mustID(t, "shop", "a"), []string{"x"}, 0); err == nil {
		t.Error("a JWT-SVID with ttl 0 was minted")
	}
}

func TestJWKSFollowsRotation(t *testing.T) {
	clk := newFakeClock()
	ca, _ := newTestCA(t, clk)
	before := jwtKIDs(t, ca)
	id := mustID(t, "shop", "a")
	tok, _, err := ca.MintJWT(id, []string{"x"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Rotate(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(jwtKIDs(t, ca), ","); n != 1 {
		t.Fatalf("JWKS after Rotate: %s, want two keys", jwtKIDs(t, ca))
	}
	clk.Advance(DefaultPublishDelay)
	tok2, _, err := ca.MintJWT(id, []string{"x"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	h1, _ := jwtParts(t, tok)
	h2, _ := jwtParts(t, tok2)
	if h1["kid"] == h2["kid"] {
		t.Fatal("the new root's JWT key does not sign after the publish delay")
	}
	// The old key stays until the old root's last token expired (an hour
	// after it was minted).
	clk.Advance(time.Hour - DefaultPublishDelay - time.Minute)
	if !strings.Contains(jwtKIDs(t, ca), before) {
		t.Fatal("the old JWT key left before its last token expired")
	}
	clk.Advance(issuanceSlack + 2*time.Minute)
	if strings.Contains(jwtKIDs(t, ca), before) {
		t.Fatal("the old JWT key stayed after its last token expired")
	}
}

// jwtKIDs returns the key IDs of the CA's JWKS, sorted and comma-joined.
func jwtKIDs(t testing.TB, ca *CA) string {
	t.Helper()
	raw, err := ca.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(raw, &jwks); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range jwks.Keys {
		kids = append(kids, k.KID)
	}
	slices.Sort(kids)
	return strings.Join(kids, ",")
}

// jwtParts decodes a compact JWS's header and claims without verifying.
func jwtParts(t testing.TB, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("JWT has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}
