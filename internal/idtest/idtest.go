// Package idtest holds what identity tests repeat: a memory store with a
// real CA and real join tokens over it, and a key with a CSR for it. The
// certificates are real so that a test proves what production would do.
package idtest

import (
	"crypto/ecdsa"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/identity"
	"embassy.dev/embassy/pkg/spiffe"
	"embassy.dev/embassy/pkg/store"
)

// Env is a memory store with a CA and join tokens kept in it; the test's
// cleanup closes the store.
type Env struct {
	// Store holds the CA's key and the tokens.
	Store *store.Memory
	// CA signs CSRs for the trust domain New was given.
	CA *identity.CA
	// Tokens creates and redeems join tokens.
	Tokens *identity.Tokens
}

// New makes an Env for trustDomain. now is the tokens' clock; nil means
// the wall clock, as in production.
func New(t testing.TB, trustDomain string, now func() time.Time) *Env {
	t.Helper()
	e := &Env{Store: store.NewMemory()}
	t.Cleanup(func() { e.Store.Close() })
	var err error
	if e.CA, err = identity.LoadOrCreateCA(e.Store, identity.CAConfig{TrustDomain: trustDomain}, nil); err != nil {
		t.Fatal(err)
	}
	if e.Tokens, err = identity.NewTokens(e.Store, now); err != nil {
		t.Fatal(err)
	}
	return e
}

// KeyAndCSR is spiffe.NewKeyAndCSR, the agent's own way of making them,
// failing the test instead of returning an error.
func KeyAndCSR(t testing.TB) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, csr, err := spiffe.NewKeyAndCSR()
	if err != nil {
		t.Fatal(err)
	}
	return key, csr
}
