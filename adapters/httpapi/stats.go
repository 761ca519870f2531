package httpapi

import (
	"net/http"
	"time"

	"github.com/stenthq/stent/domain"
)

func (h *Handler) stats(w http.ResponseWriter, r *http.Request) {
	st, err := h.eng.Stats(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// throughput answers GET /v1/stats/throughput?window=1h&bucket=1m:
// executions finished per bucket by state with latency percentiles, from
// the store (Engine.Throughput).
func (h *Handler) throughput(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	durs := map[string]time.Duration{"window": time.Hour, "bucket": time.Minute}
	for _, name := range []string{"window", "bucket"} {
		raw := q.Get(name)
		if raw == "" {
			continue
		}
		d, err := domain.ParseDuration(raw)
		if err != nil {
			h.failField(w, r, name, err)
			return
		}
		durs[name] = d
	}
	t, err := h.eng.Throughput(r.Context(), durs["window"], durs["bucket"])
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// listWorkers answers GET /v1/workers: the worker registry, live workers
// first, optionally only those in the ?state= states (repeated or
// comma-separated), a page at a time.
func (h *Handler) listWorkers(w http.ResponseWriter, r *http.Request) {
	p, ok := h.page(w, r, listWorkers)
	if !ok {
		return
	}
	var want map[domain.WorkerState]bool
	for _, st := range splitList(r.URL.Query()["state"]) {
		if _, err := domain.ParseWorkerState(st); err != nil {
			h.fail(w, r, err)
			return
		}
		if want == nil {
			want = map[domain.WorkerState]bool{}
		}
		want[domain.WorkerState(st)] = true
	}
	all, err := h.eng.ListWorkers(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	list := []domain.WorkerInfo{}
	for _, wk := range all {
		if want == nil || want[wk.State] {
			list = append(list, wk)
		}
	}
	list, next := memoryPage(list, p, workerAtOrBefore, workerKey)
	writeJSON(w, http.StatusOK, listBody("workers", list, p, next))
}
