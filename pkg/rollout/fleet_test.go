package rollout

import (
	"encoding/json"
	"testing"
	"time"
)

// nowhere says every proxy is connected to no replica.
func nowhere(string) string { return "" }

// part is a replica's side of revision as its Report tells it, after a
// round trip through JSON as the fleet publishes it.
func part(t *testing.T, replica string, r Report, revision int64) Part {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	c, ok := back.Change(revision)
	return Part{Replica: replica, Change: c, Known: ok}
}

func TestAReportTellsAChangeAsItsTrackerDoes(t *testing.T) {
	tr := NewTracker()
	tr.Pushed(4, t0, map[string]map[string]string{"a": {"cds": "v4"}, "b": {"cds": "v4"}})
	tr.Pushed(7, t0.Add(time.Second), map[string]map[string]string{"a": {"cds": "v7"}})
	tr.Answered("b", "cds", "v4", "bad cluster", t0.Add(time.Millisecond))
	tr.Answered("a", "cds", "v7", "", t0.Add(1500*time.Millisecond))
	r := tr.Report(100)
	if r.Pushed != 7 || len(r.Pushes) != 2 || r.Pushes[1].After != 4 {
		t.Fatalf("report: %+v", r)
	}
	for rev := int64(1); rev <= 8; rev++ {
		want, _ := tr.Change(rev)
		got, ok := r.Change(rev)
		if !ok || got.State != want.State || got.Pushed != want.Pushed || got.PushRevision != want.PushRevision || len(got.Proxies) != len(want.Proxies) {
			t.Fatalf("revision %d: report says %+v, tracker %+v", rev, got, want)
		}
		for i := range got.Proxies {
			if got.Proxies[i].ID != want.Proxies[i].ID || got.Proxies[i].State != want.Proxies[i].State || got.Proxies[i].Message != want.Proxies[i].Message {
				t.Fatalf("revision %d proxy %d: %+v, tracker %+v", rev, i, got.Proxies[i], want.Proxies[i])
			}
		}
	}
}

func TestAReportIsBoundedAndAReaderGathersMore(t *testing.T) {
	tr := NewTracker()
	for rev := int64(1); rev <= 10; rev++ {
		tr.Pushed(rev, t0.Add(time.Duration(rev)*time.Second), map[string]map[string]string{"a": {"cds": "v"}, "b": {"cds": "v"}})
	}
	r := tr.Report(5)
	if len(r.Pushes) != 2 || r.Pushes[0].Revision != 9 {
		t.Fatalf("a report of at most 5 proxies keeps the last 2 pushes of 2: %+v", r.Pushes)
	}
	if _, ok := r.Change(8); ok {
		t.Fatal("a report without the push of revision 8 claims to know it")
	}
	if r := tr.Report(0); len(r.Pushes) != 1 || r.Pushes[0].Revision != 10 {
		t.Fatalf("the latest push is always reported: %+v", r.Pushes)
	}
	var g Report
	for _, max := range []int{20, 4, 2} {
		g = Gather(g, tr.Report(max), 6, 100)
	}
	if len(g.Pushes) != 6 || g.Pushes[0].Revision != 5 || g.Pushes[5].Revision != 10 {
		t.Fatalf("gathered: %+v", g.Pushes)
	}
	if c, ok := g.Change(8); !ok || c.PushRevision != 8 {
		t.Fatalf("a gathered push is remembered after the replica stopped reporting it: %+v %v", c, ok)
	}
	tr.Answered("a", "cds", "v", "", t0.Add(20*time.Second))
	g = Gather(g, tr.Report(2), 6, 100)
	if c, _ := g.Change(10); c.Proxies[0].State != Acked {
		t.Fatalf("a newer report's answers replace the gathered ones: %+v", c)
	}
	if few := Gather(g, tr.Report(2), 6, 5); len(few.Pushes) != 2 || few.Pushes[0].Revision != 9 {
		t.Fatalf("gathered at most 5 proxies: %+v", few.Pushes)
	}
	if one := Gather(g, tr.Report(2), 6, 0); len(one.Pushes) != 1 || one.Pushes[0].Revision != 10 {
		t.Fatalf("the latest push is always kept: %+v", one.Pushes)
	}
	if restarted := Gather(g, Report{Pushed: 3}, 6, 100); len(restarted.Pushes) != 0 {
		t.Fatalf("a replica that went back in revisions restarted: %+v", restarted)
	}
}

func TestAChangeConvergesOnlyWhenEveryReplicaPushedAndEveryProxyAcked(t *testing.T) {
	a, b := NewTracker(), NewTracker()
	a.Pushed(5, t0, map[string]map[string]string{"pa": {"cds": "v5"}})
	a.Answered("pa", "cds", "v5", "", t0.Add(100*time.Millisecond))
	local, _ := a.Change(5)
	merged := func() Change {
		c, ok := Merge(5, []Part{{Replica: "A", Change: local, Known: true}, part(t, "B", b.Report(100), 5)}, nowhere)
		if !ok {
			t.Fatal("the change is unknown")
		}
		return c
	}
	if c := merged(); c.State != Pending || c.Pushed || len(c.Replicas) != 2 || c.Replicas[1].Pushed {
		t.Fatalf("B has not pushed it yet: %+v", c)
	}
	b.Pushed(5, t0.Add(300*time.Millisecond), map[string]map[string]string{"pb": {"cds": "v5"}})
	if c := merged(); c.State != Pending || !c.Pushed || len(c.Proxies) != 2 || c.Proxies[1].Replica != "B" || c.Proxies[1].State != Pending {
		t.Fatalf("B's proxy has not answered: %+v", c)
	}
	b.Answered("pb", "cds", "v5", "", t0.Add(900*time.Millisecond))
	c := merged()
	if c.State != Converged || c.ConvergenceSeconds != 0.9 || !c.PushedAt.Equal(t0) || c.Proxies[0].Replica != "A" {
		t.Fatalf("every proxy acked: %+v", c)
	}
	if c.Proxies[0].Types == nil || len(c.Proxies[0].Types) != 1 || c.Proxies[1].Types == nil {
		t.Fatalf("types are this replica's own, and an empty list for others': %+v", c.Proxies)
	}
}

func TestAnotherReplicasNackFailsTheChangeNamingItsProxyAndReplica(t *testing.T) {
	a, c := NewTracker(), NewTracker()
	a.Pushed(9, t0, map[string]map[string]string{"pa": {"lds": "l9"}})
	a.Answered("pa", "lds", "l9", "", t0)
	c.Pushed(9, t0, map[string]map[string]string{"pc": {"lds": "l9"}})
	c.Answered("pc", "lds", "l9", "listener refused: port taken", t0.Add(time.Millisecond))
	local, _ := a.Change(9)
	got, _ := Merge(9, []Part{{Replica: "A", Change: local, Known: true}, part(t, "C", c.Report(100), 9)}, nowhere)
	if got.State != Failed || got.Proxies[1].ID != "pc" || got.Proxies[1].Replica != "C" || got.Proxies[1].Message != "listener refused: port taken" {
		t.Fatalf("merged: %+v", got)
	}
}

func TestAProxyThatMovedIsJudgedWhereItIsNow(t *testing.T) {
	a, b := NewTracker(), NewTracker()
	// p was pushed the change on A, left before answering, and was
	// pushed it again on B, where it acked.
	a.Pushed(3, t0, map[string]map[string]string{"p": {"cds": "v3"}, "q": {"cds": "v3"}})
	a.Answered("q", "cds", "v3", "", t0)
	b.Pushed(3, t0.Add(time.Second), map[string]map[string]string{"p": {"cds": "v3"}})
	b.Answered("p", "cds", "v3", "", t0.Add(2*time.Second))
	local, _ := a.Change(3)
	parts := []Part{{Replica: "A", Change: local, Known: true}, part(t, "B", b.Report(100), 3)}
	got, _ := Merge(3, parts, func(id string) string { return map[string]string{"p": "B", "q": "A"}[id] })
	if got.State != Converged || len(got.Proxies) != 2 || got.Proxies[0].Replica != "B" || got.Proxies[0].State != Acked {
		t.Fatalf("p is on B: %+v", got)
	}
	// Connected nowhere, p is judged by the latest push that reached it.
	if got, _ := Merge(3, parts, nowhere); got.State != Converged || got.Proxies[0].Replica != "B" {
		t.Fatalf("p is gone: %+v", got)
	}
	// p went back to A, whose push it never answered.
	if got, _ := Merge(3, parts, func(string) string { return "A" }); got.State != Pending || got.Proxies[0].Replica != "A" {
		t.Fatalf("p is back on A: %+v", got)
	}
}

func TestAChangeNoReplicaRemembersIsUnknown(t *testing.T) {
	if _, ok := Merge(2, []Part{{Replica: "A"}, {Replica: "B"}}, nowhere); ok {
		t.Fatal("a change no replica remembers is known")
	}
	b := NewTracker()
	b.Pushed(2, t0, map[string]map[string]string{"pb": {"cds": "v2"}})
	c, ok := Merge(2, []Part{{Replica: "A"}, part(t, "B", b.Report(100), 2)}, nowhere)
	if !ok || c.State != Pending || !c.Pushed || c.Replicas[0].Known {
		t.Fatalf("a change B remembers: %+v %v", c, ok)
	}
}
