package app

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/stenthq/stent/app/internal/run"
)

// TracerName is the instrumentation name of the engine's OpenTelemetry
// tracer.
const TracerName = "github.com/stenthq/stent/app"

// Span attribute keys.
const (
	AttrExecutionID = attribute.Key("stent.execution_id")
	AttrTaskID      = attribute.Key("stent.task_id")
	AttrFunction    = attribute.Key("stent.function")
	AttrKind        = attribute.Key("stent.task.kind")
	AttrQueue       = attribute.Key("stent.queue")
	AttrAttempt     = attribute.Key("stent.attempt")
	AttrWorkerID    = attribute.Key("stent.worker_id")
)

// traceFormat is how a span context is stored on a task: W3C trace context
// (traceparent, tracestate), read back by any process.
var traceFormat propagation.TextMapPropagator = propagation.TraceContext{}

// tracing creates the engine's spans with the tracer provider from Deps:
// "stent.dispatch <fn>" around a dispatch and "stent.execute <fn>" around
// each task run. The dispatch span's context is stored on the root task and
// each run's on the steps it creates, so a workflow's spans form one trace
// across processes. With no tracer provider it does nothing and stores no
// trace context.
type tracing struct{ tracer trace.Tracer }

func newTracing(tp trace.TracerProvider) tracing {
	if tp == nil {
		return tracing{}
	}
	return tracing{tracer: tp.Tracer(TracerName)}
}

// startDispatch starts the dispatch span of function as a child of ctx's
// span. It returns the context to continue in, the carrier to store on the
// root task, and the function ending the span with the id dispatch returned
// (or the error).
func (t tracing) startDispatch(ctx context.Context, function, executionID, queue string) (context.Context, map[string]string, func(id string, err error)) {
	if t.tracer == nil {
		return ctx, nil, func(string, error) {}
	}
	ctx, span := t.tracer.Start(ctx, "stent.dispatch "+function,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(AttrFunction.String(function), AttrExecutionID.String(executionID), AttrQueue.String(queue)))
	return ctx, carrierOf(ctx), func(id string, err error) {
		if id != "" && id != executionID {
			// A reused idempotency key: the execution that already exists.
			span.SetAttributes(AttrExecutionID.String(id))
		}
		endSpan(span, err)
	}
}

// startTask starts the span of one task run as a child of the span the
// carrier stored on the task names. It returns the context the body runs
// in, the carrier to store on the steps the run creates, and the function
// ending the span.
func (t tracing) startTask(ctx context.Context, info TaskInfo, carrier map[string]string) (context.Context, map[string]string, func(error)) {
	if t.tracer == nil {
		return ctx, nil, func(error) {}
	}
	if len(carrier) > 0 {
		ctx = traceFormat.Extract(ctx, propagation.MapCarrier(carrier))
	}
	ctx, span := t.tracer.Start(ctx, "stent.execute "+info.Function,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			AttrExecutionID.String(info.ExecutionID), AttrTaskID.String(info.TaskID),
			AttrFunction.String(info.Function), AttrKind.String(info.Kind), AttrQueue.String(info.Queue),
			AttrAttempt.Int(info.Attempt), AttrWorkerID.String(info.WorkerID)))
	return ctx, carrierOf(ctx), func(err error) { endSpan(span, err) }
}

// startRun is startTask for package run.
func (t tracing) startRun(ctx context.Context, info run.Info, carrier map[string]string) (context.Context, map[string]string, func(error)) {
	return t.startTask(ctx, TaskInfo(info), carrier)
}

// carrierOf returns the W3C trace context of ctx's span, or nil when it has
// none.
func carrierOf(ctx context.Context) map[string]string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	c := propagation.MapCarrier{}
	traceFormat.Inject(ctx, c)
	if len(c) == 0 {
		return nil
	}
	return c
}

func endSpan(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		var c interface{ ErrorCode() string }
		if errors.As(err, &c) {
			span.SetAttributes(attribute.String("stent.error_code", c.ErrorCode()))
		}
	}
	span.End()
}
