package rollout

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func TestAChangeConvergesWhenEveryProxyAcks(t *testing.T) {
	tr := NewTracker()
	if c, ok := tr.Change(3); !ok || c.Pushed || c.State != Pending {
		t.Fatalf("before any push: %+v", c)
	}
	// a's ack arrives before the push is recorded: the cache sends first.
	tr.Answered("a", "cds", "v2", "", t0.Add(10*time.Millisecond))
	tr.Pushed(4, t0, map[string]map[string]string{"a": {"cds": "v2"}, "b": {"cds": "v2", "eds": "e2"}})
	c, _ := tr.Change(3)
	if !c.Pushed || c.PushRevision != 4 || c.State != Pending || c.Proxies[0].State != Acked || c.Proxies[1].State != Pending {
		t.Fatalf("half acked: %+v", c)
	}
	tr.Answered("b", "cds", "v2", "", t0.Add(20*time.Millisecond))
	tr.Answered("b", "eds", "e2", "", t0.Add(50*time.Millisecond))
	c, _ = tr.Change(4)
	if c.State != Converged || c.ConvergenceSeconds != 0.05 || !c.ConvergedAt.Equal(t0.Add(50*time.Millisecond)) {
		t.Fatalf("converged: %+v", c)
	}
	if c.ID != "c-4" {
		t.Fatalf("id %s", c.ID)
	}
}

func TestANackFailsTheChangeAndALaterAckSettlesEarlierPushes(t *testing.T) {
	tr := NewTracker()
	tr.Pushed(5, t0, map[string]map[string]string{"a": {"lds": "l5"}, "b": {"lds": "l5"}})
	tr.Answered("b", "lds", "l5", "bad listener", t0.Add(time.Millisecond))
	c, _ := tr.Change(5)
	if c.State != Failed || c.Proxies[1].State != Nacked || c.Proxies[1].Message != "bad listener" || c.Proxies[0].State != Pending {
		t.Fatalf("nacked: %+v", c)
	}
	// a skips l5 and acks l6: it holds l5's change too.
	tr.Pushed(6, t0.Add(time.Second), map[string]map[string]string{"a": {"lds": "l6"}})
	tr.Answered("a", "lds", "l6", "", t0.Add(2*time.Second))
	if c, _ := tr.Change(5); c.Proxies[0].State != Acked {
		t.Fatalf("a after acking a later version: %+v", c)
	}
	if c, _ := tr.Change(6); c.State != Converged || len(c.Proxies) != 1 {
		t.Fatalf("change 6: %+v", c)
	}
}

func TestChangeIDs(t *testing.T) {
	if n, err := ParseChangeID(ChangeID(42)); err != nil || n != 42 {
		t.Fatalf("round trip: %d %v", n, err)
	}
	for _, bad := range []string{"42", "c-", "c-x", "c--1"} {
		if _, err := ParseChangeID(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestForgottenChanges(t *testing.T) {
	tr := NewTracker()
	for i := range MaxPushes + 10 {
		tr.Pushed(int64(100+i), t0, nil)
	}
	if _, ok := tr.Change(50); ok {
		t.Fatal("a change older than every remembered push was reported")
	}
	if c, ok := tr.Change(int64(100 + MaxPushes + 9)); !ok || c.State != Converged {
		t.Fatalf("the latest change: %+v %t", c, ok)
	}
}

func TestAPushIsSettledOnceWhenItNeedsNoMoreAnswers(t *testing.T) {
	tr := NewTracker()
	var settled []int64
	tr.OnSettled(func(rev int64) { settled = append(settled, rev) })
	tr.Pushed(1, t0, nil)
	tr.Pushed(2, t0, map[string]map[string]string{"a": {"cds": "v2"}, "b": {"cds": "v2"}})
	tr.Answered("a", "cds", "v2", "", t0)
	if len(settled) != 1 || settled[0] != 1 {
		t.Fatalf("a push owed nothing is settled at once, one owed an answer is not: %v", settled)
	}
	tr.Answered("b", "cds", "v2", "bad cluster", t0)
	tr.Answered("b", "cds", "v2", "", t0)
	// c answered before its push was recorded, as the cache sends first.
	tr.Answered("c", "cds", "v3", "", t0)
	tr.Pushed(3, t0, map[string]map[string]string{"c": {"cds": "v3"}})
	tr.Pushed(4, t0, map[string]map[string]string{"a": {"cds": "v4"}})
	tr.Pushed(5, t0, map[string]map[string]string{"a": {"cds": "v5"}})
	tr.Answered("a", "cds", "v5", "", t0)
	if want := []int64{1, 2, 3, 5, 4}; fmt.Sprint(settled) != fmt.Sprint(want) {
		t.Fatalf("settled %v, want %v (a rejection settles too; an ack of v5 settles v4's push)", settled, want)
	}
}
