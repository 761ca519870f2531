package app

import "context"

// Tracer is the engine's tracing seam: spans for dispatch and for each task
// run, linked across processes through the trace context stored on tasks.
// An OpenTelemetry implementation lives outside the engine; the default
// does nothing.
type Tracer interface {
	// StartDispatch starts the span of a dispatch of function and returns
	// the context to continue in, the carrier to store on the root task
	// (W3C trace context), and the function ending the span.
	StartDispatch(ctx context.Context, function string) (context.Context, map[string]string, func(error))
	// StartTask starts the span of one task run, as a child of the span the
	// carrier (stored on the task) names.
	StartTask(ctx context.Context, t TaskInfo, carrier map[string]string) (context.Context, func(error))
	// Carrier returns the W3C trace context of ctx, to store on a child
	// step.
	Carrier(ctx context.Context) map[string]string
}

type nopTracer struct{}

func (nopTracer) StartDispatch(ctx context.Context, _ string) (context.Context, map[string]string, func(error)) {
	return ctx, nil, func(error) {}
}

func (nopTracer) StartTask(ctx context.Context, _ TaskInfo, _ map[string]string) (context.Context, func(error)) {
	return ctx, func(error) {}
}

func (nopTracer) Carrier(context.Context) map[string]string { return nil }
