package events

import (
	"context"
	"testing"
	"time"
)

func TestRecentKeepsTheLatestInOrder(t *testing.T) {
	b := New(3)
	for i := int64(1); i <= 5; i++ {
		b.Publish(Event{Kind: KindApply, Revision: i})
	}
	got := b.Recent(0)
	if len(got) != 3 || got[0].Revision != 3 || got[2].Revision != 5 || got[2].Seq != 5 {
		t.Fatalf("Recent(0) = %+v", got)
	}
	if two := b.Recent(2); len(two) != 2 || two[0].Revision != 4 {
		t.Fatalf("Recent(2) = %+v", two)
	}
	if one := New(4); len(one.Recent(10)) != 0 {
		t.Fatal("an empty bus returned events")
	}
}

func TestSubscribeSeesLaterEventsAndClosesWithContext(t *testing.T) {
	b := New(0)
	b.Publish(Event{Kind: KindPush})
	ctx, cancel := context.WithCancel(context.Background())
	ch := b.Subscribe(ctx)
	b.Publish(Event{Kind: KindNack, Proxy: "a.default"})
	select {
	case e := <-ch:
		if e.Kind != KindNack || e.Seq != 2 || e.Time.IsZero() {
			t.Fatalf("event = %+v", e)
		}
	case <-time.After(time.Second):
		t.Fatal("no event within 1s")
	}
	cancel()
	for range ch {
	}
}

func TestNilBusIsSafe(t *testing.T) {
	var b *Bus
	b.Publish(Event{Kind: KindApply})
	if b.Recent(5) != nil {
		t.Fatal("nil bus returned events")
	}
	ctx, cancel := context.WithCancel(context.Background())
	ch := b.Subscribe(ctx)
	cancel()
	if _, ok := <-ch; ok {
		t.Fatal("nil bus delivered an event")
	}
}
