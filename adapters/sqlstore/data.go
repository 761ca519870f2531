package sqlstore

import (
	"math"

	"github.com/stenthq/stent/domain"
)

// checkOps validates data operations before anything is written.
func (s *Store) checkOps(op string, ops []domain.DataOp) error {
	for i, o := range ops {
		switch o.Kind {
		case domain.OpAddCounter, domain.OpInitCounter:
			if math.IsNaN(o.Number) || math.IsInf(o.Number, 0) {
				return s.invalid("%s: data op %d (%s %q) has number %v; it must be finite", op, i, o.Kind, o.Key, o.Number)
			}
		case domain.OpSetState, domain.OpInitState:
		default:
			return s.invalid("%s: data op %d has kind %q; allowed: %s, %s, %s, %s", op, i, o.Kind,
				domain.OpAddCounter, domain.OpInitCounter, domain.OpSetState, domain.OpInitState)
		}
		if o.Key == "" {
			return s.invalid("%s: data op %d (%s) has an empty key", op, i, o.Kind)
		}
	}
	return nil
}

// applyOps applies data operations to an execution, in order.
func (s *Store) applyOps(t *txn, execID string, ops []domain.DataOp) error {
	for _, o := range ops {
		var err error
		switch o.Kind {
		case domain.OpAddCounter:
			_, err = t.exec(`INSERT INTO @execution_counters AS c (execution_id, key, value) VALUES (?, ?, ?)
 ON CONFLICT (execution_id, key) DO UPDATE SET value = c.value + excluded.value`, execID, o.Key, o.Number)
		case domain.OpInitCounter:
			_, err = t.exec(`INSERT INTO @execution_counters (execution_id, key, value) VALUES (?, ?, ?)
 ON CONFLICT (execution_id, key) DO NOTHING`, execID, o.Key, o.Number)
		case domain.OpSetState:
			_, err = t.exec(`INSERT INTO @execution_state (execution_id, key, value) VALUES (?, ?, ?)
 ON CONFLICT (execution_id, key) DO UPDATE SET value = excluded.value`, execID, o.Key, payload(o.Value))
		case domain.OpInitState:
			_, err = t.exec(`INSERT INTO @execution_state (execution_id, key, value) VALUES (?, ?, ?)
 ON CONFLICT (execution_id, key) DO NOTHING`, execID, o.Key, payload(o.Value))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
