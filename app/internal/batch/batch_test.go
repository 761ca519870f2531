package batch

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"testing"
)

func TestRequestsQueuedDuringAWriteShareTheNextBatch(t *testing.T) {
	t.Parallel()
	entered := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	write := func(_ context.Context, qs []int) []int {
		mu.Lock()
		sizes = append(sizes, len(qs))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			close(entered)
			<-release
		}
		out := make([]int, len(qs))
		for i, q := range qs {
			out[i] = q * 10
		}
		return out
	}
	w := New(8, write, func(error) int { return -1 })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go w.Run(ctx)

	results := make(chan [2]int, 4)
	go func() { results <- [2]int{1, w.Do(ctx, 1)} }()
	<-entered // the first batch (one request) is being written
	var queued sync.WaitGroup
	for q := 2; q <= 4; q++ {
		queued.Go(func() { results <- [2]int{q, w.Do(ctx, q)} })
	}
	for len(w.ch) < 3 {
		runtime.Gosched() // until the three requests are queued behind the blocked write
	}
	close(release)
	queued.Wait()
	for range 4 {
		r := <-results
		if r[1] != r[0]*10 {
			t.Fatalf("request %d got %d, want its own result %d", r[0], r[1], r[0]*10)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(sizes, []int{1, 3}) {
		t.Fatalf("batch sizes = %v, want [1 3]", sizes)
	}
}
