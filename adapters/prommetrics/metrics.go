// Package prommetrics reports the engine to Prometheus: it implements
// app.Metrics and app.WorkerMetrics with counters and a duration
// histogram, and adds gauges read from the store (cached between scrapes),
// the workers' slots and the notifier's health, all on a registry of its
// own served by Handler. It has no fx and no HTTP server: stentfx and
// embedders mount Handler where they like.
package prommetrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/stenthq/stent/app"
	"github.com/stenthq/stent/domain"
	"github.com/stenthq/stent/ports"
)

// DefaultGaugeTTL is how long the store-derived gauges are cached between
// scrapes (SPEC §11: at most 5 s).
const DefaultGaugeTTL = 5 * time.Second

// GaugeStore is what the gauges read: the count queries and the worker
// registry.
type GaugeStore interface {
	ports.StatsStore
	ports.WorkerStore
}

// Options configures New. The zero value works.
type Options struct {
	// Store answers the gauges (executions and tasks by state, queue
	// depth, dead letters with count queries; workers by state from the
	// worker registry); nil leaves them out.
	Store GaugeStore
	// Notifier, when it implements ports.NotifierHealth, feeds
	// stent_notifier_up.
	Notifier ports.Notifier
	// GaugeTTL caches the store gauges; default DefaultGaugeTTL.
	GaugeTTL time.Duration
	// Now is the clock of the gauge cache; default time.Now.
	Now func() time.Time
	// NoRuntimeCollectors leaves out the Go runtime and process metrics.
	NoRuntimeCollectors bool
}

// Metrics is a Prometheus implementation of app.Metrics and
// app.WorkerMetrics, registered on its own registry (not the global one):
// counters of claimed, completed, failed, retried, dead-lettered and
// cancelled tasks and of lease renewals by function and queue, a task
// duration histogram, counters of workers declared dead and of the tasks
// taken over from them, and gauges read from the store (cached), the
// workers' slots and the notifier's health.
type Metrics struct {
	reg *prometheus.Registry

	claimed, completed, failed, retried, deadLettered, cancelled, renewals *prometheus.CounterVec
	timedOut, workersDead, tasksAdopted                                    prometheus.Counter
	duration                                                               *prometheus.HistogramVec

	gauges *gaugeCollector
}

var (
	_ app.Metrics       = (*Metrics)(nil)
	_ app.WorkerMetrics = (*Metrics)(nil)
)

// New builds the metrics and registers them on a fresh registry.
func New(o Options) *Metrics {
	labels := []string{"function", "queue"}
	counter := func(name, help string, extra ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "stent", Name: name, Help: help}, append(labels, extra...))
	}
	m := &Metrics{
		reg:          prometheus.NewRegistry(),
		claimed:      counter("tasks_claimed_total", "Tasks claimed by a worker (each attempt, inline steps included)."),
		completed:    counter("tasks_completed_total", "Task attempts that completed."),
		failed:       counter("tasks_failed_total", "Task attempts that failed; retrying says whether another attempt was scheduled.", "retrying"),
		retried:      counter("tasks_retried_total", "Failed task attempts scheduled for another attempt."),
		deadLettered: counter("tasks_dead_lettered_total", "Tasks that failed terminally and were dead-lettered."),
		cancelled:    counter("tasks_cancelled_total", "Running tasks stopped by a cancellation."),
		renewals:     counter("lease_renewals_total", "Lease renewals of running tasks."),
		timedOut: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "stent", Name: "executions_timed_out_total",
			Help: "Executions timed out by this process."}),
		workersDead: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "stent", Name: "workers_declared_dead_total",
			Help: "Workers this process's workers declared dead (heartbeat too old, or a same-named predecessor taken over)."}),
		tasksAdopted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "stent", Name: "tasks_adopted_total",
			Help: "Running tasks whose leases were ended because their worker was declared dead, so they are reclaimed at once."}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "stent", Name: "task_duration_seconds",
			Help:    "Run time of task attempts, by outcome (completed or failed).",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, append(labels, "outcome")),
	}
	ttl := o.GaugeTTL
	if ttl <= 0 {
		ttl = DefaultGaugeTTL
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	m.gauges = &gaugeCollector{store: o.Store, notifier: o.Notifier, ttl: ttl, now: now}
	m.reg.MustRegister(m.claimed, m.completed, m.failed, m.retried, m.deadLettered, m.cancelled, m.renewals,
		m.timedOut, m.workersDead, m.tasksAdopted, m.duration, m.gauges)
	if !o.NoRuntimeCollectors {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry returns the private registry, to add your own collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// WatchWorkers makes the slot gauges report the engine's workers.
func (m *Metrics) WatchWorkers(workers func() []*app.Worker) {
	m.gauges.mu.Lock()
	m.gauges.workers = workers
	m.gauges.mu.Unlock()
}

func queueLabel(q string) string {
	if q == "" {
		return domain.DefaultQueue
	}
	return q
}

// TaskClaimed implements app.Metrics.
func (m *Metrics) TaskClaimed(t app.TaskInfo) {
	m.claimed.WithLabelValues(t.Function, queueLabel(t.Queue)).Inc()
}

// TaskCompleted implements app.Metrics.
func (m *Metrics) TaskCompleted(t app.TaskInfo, d time.Duration) {
	m.completed.WithLabelValues(t.Function, queueLabel(t.Queue)).Inc()
	m.duration.WithLabelValues(t.Function, queueLabel(t.Queue), "completed").Observe(d.Seconds())
}

// TaskFailed implements app.Metrics.
func (m *Metrics) TaskFailed(t app.TaskInfo, _ string, retrying bool, d time.Duration) {
	q := queueLabel(t.Queue)
	m.failed.WithLabelValues(t.Function, q, strconv.FormatBool(retrying)).Inc()
	if retrying {
		m.retried.WithLabelValues(t.Function, q).Inc()
	}
	m.duration.WithLabelValues(t.Function, q, "failed").Observe(d.Seconds())
}

// DeadLettered implements app.Metrics.
func (m *Metrics) DeadLettered(t app.TaskInfo, _ string) {
	m.deadLettered.WithLabelValues(t.Function, queueLabel(t.Queue)).Inc()
}

// TaskCancelled implements app.Metrics.
func (m *Metrics) TaskCancelled(t app.TaskInfo) {
	m.cancelled.WithLabelValues(t.Function, queueLabel(t.Queue)).Inc()
}

// ExecutionTimedOut implements app.Metrics.
func (m *Metrics) ExecutionTimedOut(string) { m.timedOut.Inc() }

// LeaseRenewed implements app.Metrics.
func (m *Metrics) LeaseRenewed(t app.TaskInfo) {
	m.renewals.WithLabelValues(t.Function, queueLabel(t.Queue)).Inc()
}

// WorkerDeclaredDead implements app.WorkerMetrics.
func (m *Metrics) WorkerDeclaredDead(_ string, tasks int) {
	m.workersDead.Inc()
	if tasks > 0 {
		m.tasksAdopted.Add(float64(tasks))
	}
}

// gaugeCollector reports the store counts (cached for ttl), the workers'
// slots and the notifier's health at each scrape.
type gaugeCollector struct {
	store    GaugeStore
	notifier ports.Notifier
	ttl      time.Duration
	now      func() time.Time

	mu      sync.Mutex
	workers func() []*app.Worker
	at      time.Time
	snap    storeSnapshot
}

type storeSnapshot struct {
	ok          bool
	executions  map[domain.ExecutionState]int64
	tasks       []ports.TaskCount
	deadLetters int64
	workers     map[domain.WorkerState]int64
	paused      []string // paused queues; nil when the store has no QueueStore
	queues      []domain.QueueInfo
	limits      map[limitLabels]*limitSums // nil when the store has no LimitStore
}

// limitLabels are the labels of the limit gauges: one series per declared
// limit (kind, function or queue scope, its name), never per key (keys are
// unbounded: a customer id, a tenant).
type limitLabels struct {
	kind  domain.LimitKind
	scope domain.LimitScope
	name  string
}

// limitSums adds up a declared limit's groups.
type limitSums struct {
	groups, full, inUse, pending int64
	limit                        int
}

// MaxLimitGroups caps the limit groups one refresh reads
// (ListLimitUsage's Limit); beyond it the limit gauges undercount.
const MaxLimitGroups = 10000

// workerStateOrder lists the registry states stent_workers reports.
var workerStateOrder = []domain.WorkerState{domain.WorkerLive, domain.WorkerStopped, domain.WorkerDead}

var (
	descStoreUp     = prometheus.NewDesc("stent_store_up", "1 when the last count queries succeeded.", nil, nil)
	descExecutions  = prometheus.NewDesc("stent_executions", "Executions by state.", []string{"state"}, nil)
	descTasks       = prometheus.NewDesc("stent_tasks", "Tasks by state, queue and kind.", []string{"state", "queue", "kind"}, nil)
	descQueueDepth  = prometheus.NewDesc("stent_queue_depth", "Pending orchestrator and activity tasks by queue.", []string{"queue"}, nil)
	descDeadLetters = prometheus.NewDesc("stent_dead_letters", "Dead letters waiting for replay or discard.", nil, nil)
	descWorkers     = prometheus.NewDesc("stent_workers", "Workers in the worker registry by state (live, stopped, dead), all processes.", []string{"state"}, nil)
	descSlots       = prometheus.NewDesc("stent_worker_slots", "Task slots of this process's workers.", []string{"worker_id"}, nil)
	descActive      = prometheus.NewDesc("stent_worker_active_tasks", "Tasks this process's workers are running or waiting on.", []string{"worker_id"}, nil)
	descWorkerState = prometheus.NewDesc("stent_worker_ready", "1 when the worker is ready (claiming).", []string{"worker_id"}, nil)
	descQueuePaused = prometheus.NewDesc("stent_queue_paused", "1 for each paused queue (stent queues pause); resumed queues are absent.", []string{"queue"}, nil)
	descQueueRun    = prometheus.NewDesc("stent_queue_running", "Running orchestrator and activity tasks by queue.", []string{"queue"}, nil)
	limitLabelNames = []string{"kind", "scope", "name"}
	descLimit       = prometheus.NewDesc("stent_limit", "A flow limit's value (running tasks, or starts per window) by kind (concurrency, rate), scope (function, queue) and the function or queue name; per key when keyed.", limitLabelNames, nil)
	descLimitGroups = prometheus.NewDesc("stent_limit_groups", "Groups (keys) of a flow limit with live work or, for a rate limit, starts in the window.", limitLabelNames, nil)
	descLimitFull   = prometheus.NewDesc("stent_limit_groups_full", "Groups of a flow limit at the limit (their due tasks wait).", limitLabelNames, nil)
	descLimitInUse  = prometheus.NewDesc("stent_limit_in_use", "A flow limit's use summed over its groups: running tasks (concurrency) or starts in the window (rate).", limitLabelNames, nil)
	descLimitPend   = prometheus.NewDesc("stent_limit_pending", "Pending tasks of a flow limit's groups.", limitLabelNames, nil)
	descNotifierUp  = prometheus.NewDesc("stent_notifier_up", "1 while the notifier is healthy; 0 when degraded (waiters poll).", nil, nil)
)

func (g *gaugeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descStoreUp, descExecutions, descTasks, descQueueDepth, descDeadLetters,
		descWorkers, descSlots, descActive, descWorkerState, descQueuePaused, descQueueRun, descLimit, descLimitGroups,
		descLimitFull, descLimitInUse, descLimitPend, descNotifierUp} {
		ch <- d
	}
}

func (g *gaugeCollector) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	snap, workers := g.refresh(), g.workers
	g.mu.Unlock()
	if g.store != nil {
		up := 0.0
		if snap.ok {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descStoreUp, prometheus.GaugeValue, up)
		if snap.ok {
			for _, s := range domain.ExecutionStates {
				ch <- prometheus.MustNewConstMetric(descExecutions, prometheus.GaugeValue, float64(snap.executions[s]), string(s))
			}
			depth := map[string]int64{}
			for _, c := range snap.tasks {
				ch <- prometheus.MustNewConstMetric(descTasks, prometheus.GaugeValue, float64(c.N), string(c.State), queueLabel(c.Queue), string(c.Kind))
				if c.State == domain.TaskPending && c.Kind.Claimable() {
					depth[queueLabel(c.Queue)] += c.N
				}
			}
			for q, n := range depth {
				ch <- prometheus.MustNewConstMetric(descQueueDepth, prometheus.GaugeValue, float64(n), q)
			}
			ch <- prometheus.MustNewConstMetric(descDeadLetters, prometheus.GaugeValue, float64(snap.deadLetters))
			for _, q := range snap.paused {
				ch <- prometheus.MustNewConstMetric(descQueuePaused, prometheus.GaugeValue, 1, q)
			}
			for _, q := range snap.queues {
				ch <- prometheus.MustNewConstMetric(descQueueRun, prometheus.GaugeValue, float64(q.Running), queueLabel(q.Name))
			}
			for l, v := range snap.limits {
				lv := []string{string(l.kind), string(l.scope), l.name}
				ch <- prometheus.MustNewConstMetric(descLimit, prometheus.GaugeValue, float64(v.limit), lv...)
				ch <- prometheus.MustNewConstMetric(descLimitGroups, prometheus.GaugeValue, float64(v.groups), lv...)
				ch <- prometheus.MustNewConstMetric(descLimitFull, prometheus.GaugeValue, float64(v.full), lv...)
				ch <- prometheus.MustNewConstMetric(descLimitInUse, prometheus.GaugeValue, float64(v.inUse), lv...)
				ch <- prometheus.MustNewConstMetric(descLimitPend, prometheus.GaugeValue, float64(v.pending), lv...)
			}
			for _, s := range workerStateOrder {
				ch <- prometheus.MustNewConstMetric(descWorkers, prometheus.GaugeValue, float64(snap.workers[s]), string(s))
			}
		}
	}
	if workers != nil {
		for _, w := range workers() {
			ch <- prometheus.MustNewConstMetric(descSlots, prometheus.GaugeValue, float64(w.Options().MaxConcurrency), w.ID())
			ch <- prometheus.MustNewConstMetric(descActive, prometheus.GaugeValue, float64(w.Active()), w.ID())
			ready := 0.0
			if w.State() == app.WorkerReady {
				ready = 1
			}
			ch <- prometheus.MustNewConstMetric(descWorkerState, prometheus.GaugeValue, ready, w.ID())
		}
	}
	up := 1.0
	if notifierHealth(g.notifier) != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(descNotifierUp, prometheus.GaugeValue, up)
}

// refresh re-reads the store counts when the cache is older than ttl.
// Called with g.mu held, so concurrent scrapes share one refresh.
func (g *gaugeCollector) refresh() storeSnapshot {
	if g.store == nil {
		return storeSnapshot{}
	}
	now := g.now()
	if !g.at.IsZero() && now.Sub(g.at) < g.ttl {
		return g.snap
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s := storeSnapshot{}
	var err error
	if s.executions, err = g.store.CountExecutionsByState(ctx); err == nil {
		if s.tasks, err = g.store.CountTasks(ctx); err == nil {
			if s.deadLetters, err = g.store.CountDeadLetters(ctx); err == nil {
				if s.workers, err = countWorkers(ctx, g.store); err == nil {
					if s.queues, s.paused, err = listQueues(ctx, g.store); err == nil {
						s.limits, err = sumLimits(ctx, g.store, now)
					}
				}
			}
		}
	}
	s.ok = err == nil
	g.snap, g.at = s, now
	return s
}

// listQueues lists the queues and the paused ones when the store keeps
// queues (ports.QueueStore; every store of this repository does).
func listQueues(ctx context.Context, st GaugeStore) ([]domain.QueueInfo, []string, error) {
	qs, ok := st.(ports.QueueStore)
	if !ok {
		return nil, nil, nil
	}
	list, err := qs.ListQueues(ctx)
	if err != nil {
		return nil, nil, err
	}
	var paused []string
	for _, q := range list {
		if q.Paused {
			paused = append(paused, q.Name)
		}
	}
	return list, paused, nil
}

// sumLimits reads the flow limits' use (when the store is a
// ports.LimitStore) and adds it up per declared limit.
func sumLimits(ctx context.Context, st GaugeStore, now time.Time) (map[limitLabels]*limitSums, error) {
	ls, ok := st.(ports.LimitStore)
	if !ok {
		return nil, nil
	}
	list, err := ls.ListLimitUsage(ctx, ports.LimitUsageFilter{Now: now, Limit: MaxLimitGroups})
	if err != nil {
		return nil, err
	}
	out := map[limitLabels]*limitSums{}
	for _, u := range list {
		l := limitLabels{u.Kind, u.Scope, u.Name}
		v := out[l]
		if v == nil {
			v = &limitSums{}
			out[l] = v
		}
		v.groups++
		if u.Full() {
			v.full++
		}
		v.inUse += u.InUse
		v.pending += u.Pending
		v.limit = max(v.limit, u.Limit)
	}
	return out, nil
}

// countWorkers counts the worker registry's rows by state.
func countWorkers(ctx context.Context, st ports.WorkerStore) (map[domain.WorkerState]int64, error) {
	ws, err := st.ListWorkers(ctx)
	if err != nil {
		return nil, err
	}
	n := map[domain.WorkerState]int64{}
	for _, w := range ws {
		n[w.State]++
	}
	return n, nil
}

// notifierHealth returns the notifier's health error, if it reports one.
func notifierHealth(n ports.Notifier) error {
	if h, ok := n.(ports.NotifierHealth); ok {
		return h.Health()
	}
	return nil
}
