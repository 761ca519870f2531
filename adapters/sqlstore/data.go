package sqlstore

import (
	"github.com/stenthq/stent/domain"
)

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
