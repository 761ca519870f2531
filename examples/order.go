package examples

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
)

// Order is the input of the order saga.
type Order struct {
	ID       string  `json:"id"`
	Item     string  `json:"item"`
	Quantity int     `json:"quantity"`
	Amount   float64 `json:"amount"`
	// Address "nowhere" makes shipping fail, to show the compensation.
	Address string `json:"address"`
}

// OrderReceipt is the saga's outcome.
type OrderReceipt struct {
	OrderID     string   `json:"order_id"`
	Status      string   `json:"status"` // "shipped" or "compensated"
	Reservation string   `json:"reservation,omitempty"`
	Payment     string   `json:"payment,omitempty"`
	Tracking    string   `json:"tracking,omitempty"`
	Compensated []string `json:"compensated,omitempty"`
	Reason      string   `json:"reason,omitempty"`
}

// ErrUndeliverable is the shipping error the saga compensates for.
var ErrUndeliverable = domain.NewError("undeliverable", "address is undeliverable")

func registerOrder(reg *app.Registry) *app.Function[Order, OrderReceipt] {
	reserve := app.Register(reg, "orders.reserve_inventory", func(ctx context.Context, o Order) (string, error) {
		return fmt.Sprintf("rsv-%s-%d×%s", o.ID, o.Quantity, o.Item), nil
	})
	release := app.Register(reg, "orders.release_inventory", func(ctx context.Context, reservation string) (string, error) {
		return "released " + reservation, nil
	})
	charge := app.Register(reg, "orders.charge_card", func(ctx context.Context, o Order) (string, error) {
		if o.Amount <= 0 {
			return "", app.Permanent(domain.InvalidArgument("amount %v; must be positive", o.Amount))
		}
		return fmt.Sprintf("pay-%s-%.2f", o.ID, o.Amount), nil
	}, app.WithIdempotent()) // never charge twice for the same order
	refund := app.Register(reg, "orders.refund", func(ctx context.Context, payment string) (string, error) {
		return "refunded " + payment, nil
	})
	ship := app.Register(reg, "orders.ship", func(ctx context.Context, o Order) (string, error) {
		if o.Address == "nowhere" {
			return "", app.Permanent(ErrUndeliverable)
		}
		return "trk-" + o.ID, nil
	}, app.WithRetry(domain.RetryPolicy{MaxAttempts: 2, InitialDelay: 100 * time.Millisecond}))

	return app.Register(reg, "orders.place_order", func(ctx context.Context, o Order) (OrderReceipt, error) {
		r := OrderReceipt{OrderID: o.ID}
		var err error
		if r.Reservation, err = reserve.Call(ctx, o); err != nil {
			return r, err
		}
		if r.Payment, err = charge.Call(ctx, o); err != nil {
			if _, cerr := release.Call(ctx, r.Reservation); cerr != nil {
				return r, cerr
			}
			return r, err
		}
		r.Tracking, err = ship.Call(ctx, o)
		if err == nil {
			r.Status = "shipped"
			return r, app.SetState(ctx, "status", r.Status)
		}
		if !errors.Is(err, ErrUndeliverable) {
			return r, err // retried by the saga's own policy
		}
		// Compensate in reverse order; each compensation is a step too.
		refunded, cerr := refund.Call(ctx, r.Payment)
		if cerr != nil {
			return r, cerr
		}
		released, cerr := release.Call(ctx, r.Reservation)
		if cerr != nil {
			return r, cerr
		}
		r.Status, r.Reason, r.Tracking = "compensated", err.Error(), ""
		r.Compensated = []string{refunded, released}
		return r, app.SetState(ctx, "status", r.Status)
	})
}
