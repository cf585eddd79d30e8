package events

import (
	"context"
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

// replicasOf lists each event's replica and seq, in order.
func replicasOf(evs []Event) string {
	s := ""
	for _, e := range evs {
		s += fmt.Sprintf("%s%d ", e.Replica, e.Seq)
	}
	return s
}

func TestRelayedEventsAreMergedByTimeEachNamingItsReplica(t *testing.T) {
	b := New(10)
	b.SetReplica("A")
	b.Publish(Event{Time: at(1), Kind: KindApply})
	b.Publish(Event{Time: at(3), Kind: KindPush})
	b.Relay("B", 7, []Event{{Seq: 1, Time: at(2), Kind: KindConnect, Proxy: "b.default"}, {Seq: 2, Time: at(4), Kind: KindNack}})
	if got := replicasOf(b.Recent(0)); got != "A1 B1 A2 B2 " {
		t.Fatalf("merged: %s", got)
	}
	// B publishes its latest events each second: those relayed before
	// are not kept twice.
	b.Relay("B", 7, []Event{{Seq: 2, Time: at(4), Kind: KindNack}, {Seq: 3, Time: at(5), Kind: KindDisconnect}})
	if got := replicasOf(b.Recent(2)); got != "B2 B3 " {
		t.Fatalf("the latest two: %s", got)
	}
	if got := replicasOf(b.Recent(0)); got != "A1 B1 A2 B2 B3 " {
		t.Fatalf("after a second relay: %s", got)
	}
	// B restarted: it numbers its events from 1 again.
	b.Relay("B", 8, []Event{{Seq: 1, Time: at(6), Kind: KindConnect}})
	if got := replicasOf(b.Recent(1)); got != "B1 " {
		t.Fatalf("a restarted replica's first event: %s", got)
	}
}

func TestABusKeepsAsManyEventsOfEachOtherReplicaAsOfItsOwn(t *testing.T) {
	b := New(3)
	var evs []Event
	for i := 1; i <= 5; i++ {
		evs = append(evs, Event{Seq: uint64(i), Time: at(i)})
	}
	b.Relay("B", 1, evs)
	if got := replicasOf(b.Recent(0)); got != "B3 B4 B5 " {
		t.Fatalf("kept: %s", got)
	}
	for i := range maxOtherReplicas + 1 {
		b.Relay(fmt.Sprintf("R%d", i), 1, []Event{{Seq: 1, Time: at(10 + i)}})
	}
	if len(b.others) != maxOtherReplicas {
		t.Fatalf("kept the events of %d other replicas, want %d", len(b.others), maxOtherReplicas)
	}
}

func TestOwnIsWhatThisReplicaPublishesForTheOthers(t *testing.T) {
	b := New(10)
	b.SetReplica("A")
	for i := 1; i <= 4; i++ {
		b.Publish(Event{Time: at(i)})
	}
	b.Relay("B", 1, []Event{{Seq: 1, Time: at(3)}})
	if got := replicasOf(b.Own(at(2), 2)); got != "A3 A4 " {
		t.Fatalf("own since 2s, at most 2: %s", got)
	}
	if got := b.Own(at(9), 10); len(got) != 0 {
		t.Fatalf("nothing since 9s: %+v", got)
	}
}

func TestSubscribersHearRelayedEvents(t *testing.T) {
	b := New(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := b.Subscribe(ctx)
	b.Relay("B", 1, []Event{{Seq: 4, Time: at(1), Kind: KindNack}})
	b.Relay("B", 1, []Event{{Seq: 4, Time: at(1), Kind: KindNack}})
	b.Publish(Event{Kind: KindApply})
	if e := <-ch; e.Replica != "B" || e.Kind != KindNack {
		t.Fatalf("first: %+v", e)
	}
	if e := <-ch; e.Kind != KindApply {
		t.Fatalf("the relayed event was handed over twice: %+v", e)
	}
}
