package identity

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/dataplane"
	"embassy.dev/embassy/pkg/jointoken"

	"embassy.dev/embassy/pkg/store"
)

func TestTokenRedeemScopesTheIdentity(t *testing.T) {
	clk := newFakeClock()
	sec := store.NewMemory()
	toks, err := NewTokens(sec, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := LoadOrCreateCA(sec, CAConfig{}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	secret, info, err := toks.Create("shop", "a", "cart-1", time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "emb1."+info.ID+".") {
		t.Fatalf("secret %q does not have the form emb1.<id>.<secret>", secret)
	}
	got, err := toks.Redeem(secret)
	if err != nil {
		t.Fatal(err)
	}
	if got.Namespace != "shop" || got.ServiceAccount != "a" || got.Workload != "cart-1" || got.Uses != 1 || got.UsedAt == nil {
		t.Fatalf("redeemed %+v, want shop/a used once", got)
	}
	// The caller signs only for the identity the token proves.
	id, err := dataplane.WorkloadID(ca.TrustDomain(), got.Namespace, got.ServiceAccount)
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	if _, err := ca.SignCSR(csrWithURI(t, key, mustID(t, "shop", "b")), id, time.Hour); !errors.Is(err, ErrBadCSR) {
		t.Fatalf("CSR for sa=b with a token for sa=a: %v, want a refusal", err)
	}
	chain, err := ca.SignCSR(csrWithURI(t, key, id), id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if chain[0].URIs[0].String() != "spiffe://embassy.local/ns/shop/sa/a" {
		t.Fatalf("leaf URI %s", chain[0].URIs[0])
	}
	// A multi-use token redeems again and counts.
	if got, err = toks.Redeem(secret); err != nil || got.Uses != 2 {
		t.Fatalf("second redeem: %+v, %v", got, err)
	}
}

func TestTokenRefusals(t *testing.T) {
	clk := newFakeClock()
	toks, err := NewTokens(store.NewMemory(), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	single, _, err := toks.Create("ns", "sa", "", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := toks.Redeem(single); err != nil {
		t.Fatalf("first use of a single-use token: %v", err)
	}
	short, _, err := toks.Create("ns", "sa", "", time.Minute, false)
	if err != nil {
		t.Fatal(err)
	}
	revoked, rinfo, err := toks.Create("ns", "sa", "", time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := toks.Revoke(rinfo.ID); err != nil {
		t.Fatal(err)
	}
	forever, finfo, err := toks.Create("ns", "sa", "", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	if finfo.ExpiresAt != nil {
		t.Fatalf("ttl 0 token expires at %v, want never", finfo.ExpiresAt)
	}
	clk.Advance(time.Minute)
	id, sec, err := jointoken.Parse(short)
	if err != nil {
		t.Fatal(err)
	}
	wrongSecret := "emb1." + id + "." + strings.Repeat("A", len(sec))
	unknown := "emb1." + strings.Repeat("0", len(id)) + "." + sec

	cases := []struct {
		name, token string
		want        error
	}{
		{"used single-use", single, ErrTokenUsed},
		{"expired", short, ErrTokenExpired},
		{"revoked", revoked, ErrTokenRevoked},
		{"unknown ID", unknown, ErrTokenInvalid},
		{"wrong secret", wrongSecret, ErrTokenInvalid},
		{"garbage", "hello", ErrTokenInvalid},
	}
	for _, c := range cases {
		if _, err := toks.Redeem(c.token); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	clk.Advance(100 * 365 * 24 * time.Hour)
	if _, err := toks.Redeem(forever); err != nil {
		t.Errorf("a token with ttl 0 expired: %v", err)
	}
	if err := toks.Revoke("0000000000000000"); !errors.Is(err, ErrTokenUnknown) {
		t.Errorf("revoke unknown: %v", err)
	}
	if _, _, err := toks.Create("ns", "", "", time.Hour, false); err == nil {
		t.Error("token without a service account was created")
	}
	if _, _, err := toks.Create("ns", "sa", "", -time.Hour, false); err == nil {
		t.Error("token with a negative ttl was created")
	}
	list := toks.List()
	if len(list) != 4 {
		t.Fatalf("List has %d tokens, want 4", len(list))
	}
	for i := 1; i < len(list); i++ {
		if list[i].CreatedAt.Before(list[i-1].CreatedAt) {
			t.Fatal("List is not oldest first")
		}
	}
}

func TestTokensStoredHashedAndSurviveRestart(t *testing.T) {
	clk := newFakeClock()
	mem := store.NewMemory()
	rec := &recordingSecrets{Secrets: mem}
	toks, err := NewTokens(rec, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	secret, info, err := toks.Create("shop", "a", "", time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	multi, _, err := toks.Create("shop", "b", "", time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := toks.Revoke(info.ID); err != nil {
		t.Fatal(err)
	}
	_, secretPart, _ := jointoken.Parse(secret)
	_, multiPart, _ := jointoken.Parse(multi)
	if len(rec.puts) == 0 {
		t.Fatal("nothing was stored")
	}
	for _, put := range rec.puts {
		for _, s := range []string{secret, secretPart, multi, multiPart} {
			if bytes.Contains(put, []byte(s)) {
				t.Fatalf("a token secret was stored in the clear")
			}
		}
	}
	if !bytes.Contains(rec.puts[len(rec.puts)-1], []byte(hashSecret(multiPart))) {
		t.Fatal("the stored tokens do not hold the SHA-256 of the secret")
	}

	again, err := NewTokens(mem, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Redeem(secret); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("revoked token after restart: %v", err)
	}
	got, err := again.Redeem(multi)
	if err != nil || got.ServiceAccount != "b" {
		t.Fatalf("token after restart: %+v, %v", got, err)
	}
	if n := len(again.List()); n != 2 {
		t.Fatalf("%d tokens after restart, want 2", n)
	}
}

// recordingSecrets keeps a copy of every value put or swapped in.
type recordingSecrets struct {
	store.Secrets
	puts [][]byte
}

func (r *recordingSecrets) PutSecret(name string, value []byte) error {
	r.puts = append(r.puts, append([]byte{}, value...))
	return r.Secrets.PutSecret(name, value)
}

func (r *recordingSecrets) SwapSecret(name string, old, value []byte) error {
	r.puts = append(r.puts, append([]byte{}, value...))
	return r.Secrets.SwapSecret(name, old, value)
}
