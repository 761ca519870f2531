package stentfx_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
	"github.com/stenthq/stent/stentfx"
)

var fastRetry = stentfx.ConnectOptions{InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}

func TestDeferredStoreAnswersUnavailableUntilConnected(t *testing.T) {
	t.Parallel()
	var opens atomic.Int32
	backend := memstore.New()
	d := stentfx.NewDeferredStore(func(context.Context) (ports.Store, error) {
		if opens.Add(1) < 3 {
			return nil, domain.ErrUnavailable
		}
		return backend, nil
	})
	ctx := context.Background()
	if err := d.Ping(ctx); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("Ping before Connect: %v; want ErrUnavailable", err)
	}
	if _, err := d.ListExecutions(ctx, ports.ExecutionFilter{}); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("ListExecutions before Connect: %v; want ErrUnavailable", err)
	}
	select {
	case <-d.Connected():
		t.Fatal("Connected is closed before Connect")
	default:
	}
	var retries []int
	o := fastRetry
	o.OnRetry = func(attempt int, _ error, _ time.Duration) { retries = append(retries, attempt) }
	if err := d.Connect(ctx, o); err != nil {
		t.Fatal(err)
	}
	<-d.Connected()
	if opens.Load() != 3 || len(retries) != 2 {
		t.Fatalf("%d opens, retries %v; want 3 opens after 2 retries", opens.Load(), retries)
	}
	if err := d.Ping(ctx); err != nil {
		t.Fatalf("Ping after Connect: %v", err)
	}
	if cur, latest, err := d.SchemaVersion(ctx); err != nil || cur != latest {
		t.Fatalf("SchemaVersion of a store without migrations: %d/%d %v", cur, latest, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := d.Ping(ctx); !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("Ping after Close: %v; want ErrClosed", err)
	}
	if err := backend.Ping(ctx); !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("Close did not close the backend: Ping %v", err)
	}
}

func TestDeferredStoreConnect(t *testing.T) {
	t.Parallel()
	t.Run("an error other than unavailable is returned at once", func(t *testing.T) {
		t.Parallel()
		var opens atomic.Int32
		d := stentfx.NewDeferredStore(func(context.Context) (ports.Store, error) {
			opens.Add(1)
			return nil, domain.ErrSchemaVersion
		})
		if err := d.Connect(context.Background(), fastRetry); !errors.Is(err, domain.ErrSchemaVersion) || opens.Load() != 1 {
			t.Fatalf("Connect: %v after %d opens; want ErrSchemaVersion after 1", err, opens.Load())
		}
	})
	t.Run("giving up keeps the cause and says why", func(t *testing.T) {
		t.Parallel()
		d := stentfx.NewDeferredStore(func(context.Context) (ports.Store, error) { return nil, domain.ErrUnavailable })
		ctx, cancel := context.WithCancel(context.Background())
		o := fastRetry
		o.OnRetry = func(attempt int, _ error, _ time.Duration) {
			if attempt == 3 {
				cancel()
			}
		}
		err := d.Connect(ctx, o)
		if !errors.Is(err, domain.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Connect: %v; want ErrUnavailable and context.Canceled", err)
		}
	})
	t.Run("a store closed while connecting closes what it opened", func(t *testing.T) {
		t.Parallel()
		backend := memstore.New()
		var d *stentfx.DeferredStore
		d = stentfx.NewDeferredStore(func(context.Context) (ports.Store, error) {
			_ = d.Close()
			return backend, nil
		})
		if err := d.Connect(context.Background(), fastRetry); !errors.Is(err, domain.ErrClosed) {
			t.Fatalf("Connect: %v; want ErrClosed", err)
		}
		if err := backend.Ping(context.Background()); !errors.Is(err, domain.ErrClosed) {
			t.Fatalf("the late backend was left open: Ping %v", err)
		}
	})
	t.Run("a store wrapped open is connected at once", func(t *testing.T) {
		t.Parallel()
		d := stentfx.NewDeferredStoreFor(memstore.New())
		<-d.Connected()
		if err := d.Connect(context.Background(), fastRetry); err != nil {
			t.Fatal(err)
		}
		_ = d.Close()
	})
}
