package notifierurl_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/notifierurl"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/internal/testenv"
)

func TestKindOfAutoFollowsTheDeployment(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		o    notifierurl.Options
		want string
	}{
		{notifierurl.Options{DB: "stent.sqlite"}, notifierurl.Local},
		{notifierurl.Options{DB: "postgres://h/db"}, notifierurl.Postgres},
		{notifierurl.Options{DB: "host=h dbname=db"}, notifierurl.Postgres},
		{notifierurl.Options{DB: "postgres://h/db", RedisURL: "redis://h"}, notifierurl.Redis},
		{notifierurl.Options{DB: "postgres://h/db", Kind: notifierurl.Local}, notifierurl.Local},
		{notifierurl.Options{DB: "stent.sqlite", Kind: notifierurl.Auto}, notifierurl.Local},
	} {
		if got := notifierurl.KindOf(c.o); got != c.want {
			t.Errorf("KindOf(db %q, redis %q, kind %q) = %q, want %q", c.o.DB, c.o.RedisURL, c.o.Kind, got, c.want)
		}
	}
}

func TestOpenRejectsBadSettings(t *testing.T) {
	t.Parallel()
	for _, o := range []notifierurl.Options{
		{Kind: "carrier-pigeon"},
		{Kind: notifierurl.Redis, RedisURL: "redis://:s3cret@h:notaport/0"},
		{Kind: notifierurl.Postgres, DB: "postgres://bob:s3cret@h:notaport/db"},
	} {
		n, err := notifierurl.Open(o)
		if err == nil {
			_ = n.Close()
		}
		if !errors.Is(err, domain.ErrInvalidArgument) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%+v) = %v; want ErrInvalidArgument without the password", o, err)
		}
	}
}

func TestCheckRedisURL(t *testing.T) {
	t.Parallel()
	for raw, ok := range map[string]bool{"": true, "redis://h:6379/0": true, "rediss://h": true, "unix:///run/redis.sock": true,
		"http://h": false, "h:6379": false} {
		if err := notifierurl.CheckRedisURL(raw); (err == nil) != ok {
			t.Errorf("CheckRedisURL(%q) = %v; want ok %v", raw, err, ok)
		}
	}
	if got := notifierurl.MaskURL("redis://:s3cret@h:6379/0"); strings.Contains(got, "s3cret") {
		t.Errorf("MaskURL leaked the password: %s", got)
	}
}

// TestOpenEachKind opens every kind and sends one wake-up through it.
func TestOpenEachKind(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		o    func(t *testing.T) notifierurl.Options
	}{
		{"in-process", func(*testing.T) notifierurl.Options { return notifierurl.Options{DB: "stent.sqlite"} }},
		{"Redis", func(t *testing.T) notifierurl.Options {
			return notifierurl.Options{RedisURL: testenv.RedisURL(t)}
		}},
		{"PostgreSQL", func(t *testing.T) notifierurl.Options {
			return notifierurl.Options{DB: testenv.PostgresDSN(t)}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			n, err := notifierurl.Open(c.o(t))
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			id := domain.NewID()
			topic := domain.TaskTopic(id)
			sub, err := n.Subscribe(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			for {
				ev := domain.Event{V: domain.EventVersion, Kind: domain.EventTask, Topic: topic, ID: id, State: "completed", At: time.Now().UTC()}
				if err := n.Publish(ctx, ev); err != nil {
					t.Fatal(err)
				}
				select {
				case got := <-sub.Events():
					if got.Kind == domain.EventReset {
						continue
					}
					if got.ID != id {
						t.Fatalf("event %+v; want task %s", got, id)
					}
					return
				case <-time.After(50 * time.Millisecond): // the subscription may not be live yet
				case <-ctx.Done():
					t.Fatal("no wake-up arrived")
				}
			}
		})
	}
}
