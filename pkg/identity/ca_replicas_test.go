package identity

import (
	"sync"
	"sync/atomic"
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
		// The first call starts the background read; a later one sees it.
		n := 0
		for try := 0; try < 100 && n != 2; try++ {
			if n = len(ca.Roots()); n != 2 {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if n != 2 {
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

// stallingSecrets, once stalled, holds every read until release is
// closed: a store that does not answer.
type stallingSecrets struct {
	store.Secrets
	stalled atomic.Bool
	release chan struct{}
}

func (s *stallingSecrets) GetSecret(name string) ([]byte, error) {
	if s.stalled.Load() {
		<-s.release
	}
	return s.Secrets.GetSecret(name)
}

// TestCAServesWhileItsStoreDoesNotAnswer stalls the store's reads: the
// CA's bundle and roots still answer at once, from the roots last read.
func TestCAServesWhileItsStoreDoesNotAnswer(t *testing.T) {
	clk := newFakeClock()
	sec := &stallingSecrets{Secrets: store.NewMemory(), release: make(chan struct{})}
	defer close(sec.release)
	ca, err := LoadOrCreateCA(sec, CAConfig{}, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	sec.stalled.Store(true)
	clk.Advance(2 * caSyncInterval)
	done := make(chan int, 1)
	go func() {
		ca.Bundle()
		done <- len(ca.Roots())
	}()
	select {
	case n := <-done:
		if n != 1 {
			t.Errorf("the CA serves %d roots with its store stalled, want the 1 it had", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the CA's bundle waited on a store that does not answer")
	}
}
