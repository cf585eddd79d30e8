package identity

import (
	"sync"
	"testing"
	"time"

	"embassy.dev/embassy/pkg/store"
)

// TestCAsStartingTogetherOnOneStoreShareOneRoot starts three CAs at once
// on an empty store, as three control planes on one etcd: one root is
// created and all three serve it.
func TestCAsStartingTogetherOnOneStoreShareOneRoot(t *testing.T) {
	mem := store.NewMemory()
	var (
		cas [3]*CA
		wg  sync.WaitGroup
	)
	for i := range cas {
		wg.Go(func() {
			var err error
			if cas[i], err = LoadOrCreateCA(mem, CAConfig{}, nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	want := cas[0].Roots()
	for i, ca := range cas {
		got := ca.Roots()
		if len(got) != 1 || got[0].Fingerprint != want[0].Fingerprint {
			t.Errorf("CA %d serves roots %v, CA 0 serves %v: want the one root stored first", i, got, want)
		}
	}
}

// TestCARotationOnOneControlPlaneReachesTheOthers rotates on one CA and
// signs on another that has not seen the rotation yet: the signer's
// raised IssuedUntil must not drop the new root, and within the sync
// interval both publish it.
func TestCARotationOnOneControlPlaneReachesTheOthers(t *testing.T) {
	clk := newFakeClock()
	mem := store.NewMemory()
	leader, err := LoadOrCreateCA(mem, CAConfig{}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	follower, err := LoadOrCreateCA(mem, CAConfig{}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.Rotate(); err != nil {
		t.Fatal(err)
	}
	// The follower signs before its next sync: its stored change is made
	// over the stored state, not over the roots it had.
	if _, err := follower.SignServer(newKey(t).Public(), mustID(t, "shop", "a"), nil, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * caSyncInterval)
	for name, ca := range map[string]*CA{"leader": leader, "follower": follower} {
		if n := len(ca.Roots()); n != 2 {
			t.Errorf("%s serves %d roots after the rotation, want 2", name, n)
		}
	}
	again, err := LoadOrCreateCA(mem, CAConfig{}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(again.Roots()); n != 2 {
		t.Errorf("the store holds %d roots after a rotation and a signature elsewhere, want 2", n)
	}
}
