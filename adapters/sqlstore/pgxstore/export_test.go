package pgxstore

import (
	"context"
	"database/sql"
)

// FlowLockSpace exposes the first advisory-lock key of a flow-limit kind
// in a schema, for tests that hold a group's lock from another session.
func FlowLockSpace(schema, kind string) int32 { return dialect{schema: schema}.flowLockSpace(kind) }

// Analyze runs the store's growth ANALYZE of a schema's tables.
func Analyze(ctx context.Context, db *sql.DB, schema string) error {
	return dialect{schema: schema}.Analyze(ctx, db)
}

// TableRows reads the growing tables' row estimate in a schema.
func TableRows(ctx context.Context, db *sql.DB, schema string) (int64, error) {
	return dialect{schema: schema}.TableRows(ctx, db)
}
