package app_test

import (
	"context"
	"testing"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

func TestLocalNotifier(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("delivers to every subscriber of a topic and to no other", func(t *testing.T) {
		t.Parallel()
		n := app.NewLocalNotifier()
		defer n.Close()
		a, _ := n.Subscribe(ctx, domain.TaskTopic("1"))
		b, _ := n.Subscribe(ctx, domain.TaskTopic("1"), domain.TaskTopic("2"))
		c, _ := n.Subscribe(ctx, domain.TaskTopic("3"))
		if err := n.Publish(ctx, domain.Event{Topic: domain.TaskTopic("1"), ID: "1"}); err != nil {
			t.Fatal(err)
		}
		for _, s := range []interface{ Events() <-chan domain.Event }{a, b} {
			if ev := <-s.Events(); ev.ID != "1" {
				t.Fatalf("got %+v", ev)
			}
		}
		select {
		case ev := <-c.Events():
			t.Fatalf("cross-talk: %+v", ev)
		default:
		}
	})
	t.Run("nothing arrives after unsubscribe and publishing to nobody is fine", func(t *testing.T) {
		t.Parallel()
		n := app.NewLocalNotifier()
		defer n.Close()
		s, _ := n.Subscribe(ctx, domain.TopicReady)
		_ = s.Close()
		_ = s.Close()
		if err := n.Publish(ctx, domain.Event{Topic: domain.TopicReady}); err != nil {
			t.Fatal(err)
		}
		if _, open := <-s.Events(); open {
			t.Fatal("channel should be closed")
		}
	})
	t.Run("a subscriber that falls behind gets a reset instead of blocking the publisher", func(t *testing.T) {
		t.Parallel()
		n := app.NewLocalNotifier()
		defer n.Close()
		s, _ := n.Subscribe(ctx, domain.TopicReady)
		for i := 0; i < 1000; i++ {
			if err := n.Publish(ctx, domain.Event{Topic: domain.TopicReady, Kind: domain.EventReady}); err != nil {
				t.Fatal(err)
			}
		}
		sawReset := false
		for {
			select {
			case ev := <-s.Events():
				sawReset = sawReset || ev.Kind == domain.EventReset
				continue
			default:
			}
			break
		}
		if !sawReset {
			t.Fatal("an overflowing subscriber must be told it missed events")
		}
	})
	t.Run("after Close, Subscribe and Publish return ErrClosed", func(t *testing.T) {
		t.Parallel()
		n := app.NewLocalNotifier()
		s, _ := n.Subscribe(ctx, domain.TopicReady)
		_ = n.Close()
		_ = n.Close()
		if _, err := n.Subscribe(ctx, domain.TopicReady); err != app.ErrClosed {
			t.Fatalf("subscribe: %v", err)
		}
		if err := n.Publish(ctx, domain.Event{Topic: domain.TopicReady}); err != app.ErrClosed {
			t.Fatalf("publish: %v", err)
		}
		if _, open := <-s.Events(); open {
			t.Fatal("subscriptions end with the notifier")
		}
	})
}
