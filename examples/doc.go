// Package examples holds runnable example workflows: an order saga with
// compensation, a fan-out batch with retries, and an approval workflow
// with a signal and a durable sleep. `make demo` runs them on an embedded
// SQLite file (see examples/demo); stentd registers them too.
package examples

import "github.com/stenthq/stent/app"

// Functions are the typed handles of the registered examples.
type Functions struct {
	PlaceOrder   *app.Function[Order, OrderReceipt]
	ProcessBatch *app.Function[Batch, BatchReport]
	Approval     *app.Function[ExpenseClaim, ApprovalOutcome]
}

// Register adds every example to reg.
func Register(reg *app.Registry) *Functions {
	return &Functions{
		PlaceOrder:   registerOrder(reg),
		ProcessBatch: registerBatch(reg),
		Approval:     registerApproval(reg),
	}
}
