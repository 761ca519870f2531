package storeurl_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stenthq/stent/adapters/memstore"
	"github.com/stenthq/stent/adapters/storeurl"
	"github.com/stenthq/stent/domain"
)

var fastRetry = storeurl.ConnectOptions{InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}

// lateStore is a store whose Connect fails with errs in turn, then
// succeeds.
type lateStore struct {
	*memstore.Store
	errs     []error
	attempts atomic.Int32
}

func (s *lateStore) Connect(context.Context) error {
	n := int(s.attempts.Add(1))
	if n <= len(s.errs) {
		return s.errs[n-1]
	}
	return nil
}

func TestConnectRetriesWhileTheDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	st := &lateStore{Store: memstore.New(), errs: []error{domain.ErrUnavailable, domain.ErrUnavailable}}
	var retries []int
	o := fastRetry
	o.OnRetry = func(attempt int, _ error, _ time.Duration) { retries = append(retries, attempt) }
	if err := storeurl.Connect(context.Background(), st, o); err != nil {
		t.Fatal(err)
	}
	if st.attempts.Load() != 3 || len(retries) != 2 || retries[1] != 2 {
		t.Fatalf("%d attempts, retries %v; want 3 attempts after 2 retries", st.attempts.Load(), retries)
	}
}

func TestConnect(t *testing.T) {
	t.Parallel()
	t.Run("an error other than unavailable is returned at once", func(t *testing.T) {
		t.Parallel()
		for _, cause := range []error{domain.ErrSchemaVersion, domain.ErrClosed} {
			st := &lateStore{Store: memstore.New(), errs: []error{cause}}
			if err := storeurl.Connect(context.Background(), st, fastRetry); !errors.Is(err, cause) || st.attempts.Load() != 1 {
				t.Fatalf("Connect: %v after %d attempts; want %v after 1", err, st.attempts.Load(), cause)
			}
		}
	})
	t.Run("giving up keeps the cause and says why", func(t *testing.T) {
		t.Parallel()
		st := &lateStore{Store: memstore.New(), errs: make([]error, 1000)}
		for i := range st.errs {
			st.errs[i] = domain.ErrUnavailable
		}
		ctx, cancel := context.WithCancel(context.Background())
		o := fastRetry
		o.OnRetry = func(attempt int, _ error, _ time.Duration) {
			if attempt == 3 {
				cancel()
			}
		}
		err := storeurl.Connect(ctx, st, o)
		if !errors.Is(err, domain.ErrUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Connect: %v; want ErrUnavailable and context.Canceled", err)
		}
	})
	t.Run("a store opened eagerly is ready at once", func(t *testing.T) {
		t.Parallel()
		st, err := storeurl.Open(context.Background(), filepath.Join(t.TempDir(), "eager.sqlite"), storeurl.Options{Lazy: true})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // Connect must not even wait
		if err := storeurl.Connect(ctx, st, fastRetry); err != nil {
			t.Fatalf("Connect of a SQLite store: %v", err)
		}
		if err := st.Ping(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
