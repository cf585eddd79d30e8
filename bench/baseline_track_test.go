package bench

import (
	"testing"
	"time"
)

// TestTrackerAcks checks the baseline's ACK bookkeeping: a NACK is not an
// ACK, an ACK counts only for the type's last response, and only for a
// response sent at or after the time asked about.
func TestTrackerAcks(t *testing.T) {
	tr := newTracker()
	ids := map[string]bool{"a.bench": true}
	tr.open(1, SotW)
	tr.request(1, "a.bench", TypeClusters, "", true)
	if n := tr.connected(ids, SotW); n != 1 {
		t.Fatalf("connected over SotW = %d, want 1", n)
	}
	if n := tr.connected(ids, Delta); n != 0 {
		t.Errorf("connected over Delta = %d, want 0", n)
	}
	t0 := time.Now()
	tr.response(1, TypeClusters, "n1", 100)
	tr.request(1, "", TypeClusters, "n1", false)
	if n := tr.ackedSince(ids, TypeClusters, t0); n != 0 {
		t.Errorf("a NACK counted as an ACK")
	}
	tr.response(1, TypeClusters, "n2", 50)
	tr.request(1, "", TypeClusters, "n1", true)
	if n := tr.ackedSince(ids, TypeClusters, t0); n != 0 {
		t.Errorf("an ACK of an older response counted for the last one")
	}
	tr.request(1, "", TypeClusters, "n2", true)
	if n := tr.ackedSince(ids, TypeClusters, t0); n != 1 {
		t.Errorf("acked since t0 = %d, want 1", n)
	}
	if n := tr.ackedSince(ids, TypeClusters, time.Now().Add(time.Second)); n != 0 {
		t.Errorf("a response sent before t counted")
	}
	if s := tr.stats(); s.Responses(SotW) != 2 || s.Bytes(SotW) != 150 || s.Responses(Delta) != 0 {
		t.Errorf("stats = %+v", s)
	}
	tr.closed(1)
	if n := tr.connected(ids, SotW); n != 0 {
		t.Errorf("connected after close = %d", n)
	}
}
