package examples

import (
	"context"
	"fmt"
	"time"

	"github.com/stenthq/stent/app"
)

// ExpenseClaim is the input of the approval workflow.
type ExpenseClaim struct {
	ID     string  `json:"id"`
	Owner  string  `json:"owner"`
	Amount float64 `json:"amount"`
	// CoolingOff is a durable sleep before the claim is filed.
	CoolingOff time.Duration `json:"cooling_off"`
}

// Decision is the payload of the "approval" signal.
type Decision struct {
	Approved bool   `json:"approved"`
	By       string `json:"by"`
	Note     string `json:"note,omitempty"`
}

// ApprovalOutcome is the workflow's result.
type ApprovalOutcome struct {
	ClaimID  string `json:"claim_id"`
	Approved bool   `json:"approved"`
	By       string `json:"by"`
	Paid     string `json:"paid,omitempty"`
}

// ApprovalSignal is the signal name the workflow waits for.
const ApprovalSignal = "approval"

func registerApproval(reg *app.Registry) *app.Function[ExpenseClaim, ApprovalOutcome] {
	notify := app.Register(reg, "approval.notify_manager", func(ctx context.Context, c ExpenseClaim) (string, error) {
		return fmt.Sprintf("asked a manager to approve %s (%.2f)", c.ID, c.Amount), nil
	})
	pay := app.Register(reg, "approval.pay_out", func(ctx context.Context, c ExpenseClaim) (string, error) {
		return fmt.Sprintf("paid %.2f to %s", c.Amount, c.Owner), nil
	})
	return app.Register(reg, "approval.expense_claim", func(ctx context.Context, c ExpenseClaim) (ApprovalOutcome, error) {
		out := ApprovalOutcome{ClaimID: c.ID}
		if err := app.SetState(ctx, "phase", "cooling off"); err != nil {
			return out, err
		}
		if err := app.Sleep(ctx, c.CoolingOff); err != nil { // durable: survives restarts
			return out, err
		}
		if _, err := notify.Call(ctx, c); err != nil {
			return out, err
		}
		if err := app.SetState(ctx, "phase", "awaiting approval"); err != nil {
			return out, err
		}
		d, err := app.WaitForSignal[Decision](ctx, ApprovalSignal)
		if err != nil {
			return out, err
		}
		out.Approved, out.By = d.Approved, d.By
		if d.Approved {
			if out.Paid, err = pay.Call(ctx, c); err != nil {
				return out, err
			}
		}
		return out, app.SetState(ctx, "phase", "done")
	})
}
