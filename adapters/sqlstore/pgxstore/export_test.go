package pgxstore

// FlowLockSpace exposes the first advisory-lock key of a flow-limit kind
// in a schema, for tests that hold a group's lock from another session.
func FlowLockSpace(schema, kind string) int32 { return dialect{schema: schema}.flowLockSpace(kind) }
