package examples

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

// Batch is the input of the fan-out example: items processed in parallel.
type Batch struct {
	Name  string   `json:"name"`
	Items []string `json:"items"`
	// FlakyEvery makes every n-th item fail its first attempt, to show
	// retries; 0 disables.
	FlakyEvery int `json:"flaky_every"`
}

// BatchReport is the fan-in result.
type BatchReport struct {
	Name      string   `json:"name"`
	Processed []string `json:"processed"`
	Total     int      `json:"total"`
}

type batchItem struct {
	Batch string `json:"batch"`
	Index int    `json:"index"`
	Value string `json:"value"`
	Flaky bool   `json:"flaky"`
}

func registerBatch(reg *app.Registry) *app.Function[Batch, BatchReport] {
	item := app.Register(reg, "batch.process_item", func(ctx context.Context, it batchItem) (string, error) {
		if tc, _ := app.CurrentTask(ctx); it.Flaky && tc.Attempt <= 1 {
			return "", fmt.Errorf("item %d: transient failure on attempt %d", it.Index, tc.Attempt)
		}
		if err := app.AddCounter(ctx, "processed", 1); err != nil {
			return "", err
		}
		return strings.ToUpper(it.Value), nil
	}, app.WithRetry(domain.RetryPolicy{MaxAttempts: 3, InitialDelay: 50 * time.Millisecond, MaxDelay: time.Second}))

	return app.Register(reg, "batch.process", func(ctx context.Context, b Batch) (BatchReport, error) {
		items := make([]batchItem, len(b.Items))
		for i, v := range b.Items {
			items[i] = batchItem{Batch: b.Name, Index: i, Value: v, Flaky: b.FlakyEvery > 0 && i%b.FlakyEvery == 0}
		}
		if err := app.InitData(ctx, map[string]float64{"processed": 0}, map[string]any{"batch": b.Name}); err != nil {
			return BatchReport{}, err
		}
		out, err := item.Map(ctx, items) // fan-out, then fan-in in input order
		if err != nil {
			return BatchReport{}, err
		}
		return BatchReport{Name: b.Name, Processed: out, Total: len(out)}, nil
	})
}
