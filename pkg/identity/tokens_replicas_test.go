package identity

import (
	"errors"
	"sync"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/store"
)

// TestTokensSharedByControlPlanesOnOneStore runs three Tokens on one
// store, as three control planes on one etcd: a token made by one is
// redeemed by another, a single-use token raced on all three is redeemed
// exactly once, and concurrent creates lose none of each other's tokens.
func TestTokensSharedByControlPlanesOnOneStore(t *testing.T) {
	mem := store.NewMemory()
	var cps [3]*Tokens
	for i := range cps {
		var err error
		if cps[i], err = NewTokens(mem, nil); err != nil {
			t.Fatal(err)
		}
	}
	multi, _, err := cps[0].Create("shop", "a", "", time.Hour, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cps[1].Redeem(multi); err != nil {
		t.Fatalf("a token made on one control plane, redeemed on another: %v", err)
	}
	single, _, err := cps[2].Create("shop", "a", "", time.Hour, true)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		won, spent int
	)
	for i := range 12 {
		wg.Go(func() {
			_, err := cps[i%3].Redeem(single)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrTokenUsed):
				spent++
			default:
				t.Errorf("redeem: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 || spent != 11 {
		t.Fatalf("single-use token raced 12 times on 3 control planes: %d redeemed, %d refused as used; want 1 and 11", won, spent)
	}
	for i := range 9 {
		wg.Go(func() {
			if _, _, err := cps[i%3].Create("shop", "b", "", time.Hour, false); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, cp := range cps {
		if n := len(cp.List()); n != 11 {
			t.Errorf("control plane %d lists %d tokens, want 11 (2 and 9 made concurrently)", i, n)
		}
	}
	if err := cps[0].Revoke(cps[1].List()[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cps[2].Redeem(multi); !errors.Is(err, ErrTokenRevoked) {
		t.Errorf("a token revoked on one control plane, redeemed on another: %v, want revoked", err)
	}
}
