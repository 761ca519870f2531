// Stent console: queues, flow limits and the throughput charts. Loaded after app.js (DOM helpers, api(),
// session, router); all console scripts share one global scope, no build step.
"use strict";

// ---- queues & throughput -------------------------------------------------

async function pageQueues() {
  const [st, qs0] = await Promise.all([refreshStats(), api("GET", "v1/queues")]);
  if (!st) throw new Error("stats unavailable");
  const render = (st, queues) => {
    const tasks = st.tasks || {};
    const maxTasks = Math.max(1, ...Object.values(tasks));
    main().replaceChildren(el("h1", {}, "Queues & throughput"),
      queueTable(queues), limitPanel(),
      el("div", { class: "grid2" },
        el("div", { class: "panel chart", id: "throughput" }, el("h2", {}, "Throughput and queue depth"),
          drawThroughput(), el("div", { class: "legend" }, el("span", {}, el("i", { class: "sw-completed" }), "executions finished / s"),
            el("span", {}, el("i", { class: "sw-failed" }), "failed / s"), el("span", {}, el("i", { class: "sw-running" }), "pending tasks (right axis)"))),
        el("div", { class: "panel bars" }, el("h2", {}, "Tasks by state"),
          Object.keys(tasks).sort().map((s) => bar(s, tasks[s], maxTasks)))),
      historyPanel());
    loadHistory(false);
  };
  render(st, qs0.queues || []);
  S.pageTimer = setInterval(async () => {
    const [st, q] = await Promise.all([refreshStats(), api("GET", "v1/queues").catch(() => null)]);
    // A confirmation dialog stays put: the page redraws under it.
    if (st && q && location.hash.startsWith("#/queues")) render(st, q.queues || []);
  }, 2000);
}

// queueTable lists GET /v1/queues: depth (with a bar relative to the
// deepest queue), running tasks, the oldest pending task's age and the
// pause state, with Pause/Resume.
function queueTable(queues) {
  const head = el("div", { class: "head" }, el("h2", {}, "Queues"),
    el("span", { class: "muted" }, queues.length + " queue" + (queues.length === 1 ? "" : "s") + " with work or a pause; " +
      queues.filter((q) => q.paused).length + " paused"));
  if (!queues.length) return el("div", { class: "panel", id: "queue-panel" }, head, el("p", { class: "muted" }, "Every queue is empty and none is paused."));
  const maxDepth = Math.max(1, ...queues.map((q) => q.pending));
  return el("div", { class: "panel", id: "queue-panel" }, head, el("table", { id: "queues" },
    el("thead", {}, el("tr", {}, ["Queue", "State", "Pending", "Running", "Oldest pending", "Paused since", ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, queues.map((q) => {
      const fill = el("div", { class: "fill" });
      fill.style.width = Math.round((100 * q.pending) / maxDepth) + "%";
      const name = q.name || "default";
      return el("tr", { class: "row" + (q.paused ? " paused" : ""), "data-queue": q.name, "data-paused": String(q.paused) },
        el("td", {}, el("b", {}, name)),
        el("td", { class: "queue-state" }, q.paused ? badge("paused") : badge("active")),
        el("td", { class: "depth" }, el("div", { class: "minibar" }, el("div", { class: "track" }, fill), el("b", {}, q.pending))),
        el("td", {}, q.running),
        el("td", { class: "nowrap", title: fmtTime(q.oldest_pending_at) }, q.oldest_pending_at ? ago(q.oldest_pending_at) : "—"),
        el("td", { class: "nowrap", title: fmtTime(q.paused_at) }, q.paused_at ? ago(q.paused_at) : "—"),
        el("td", { class: "actions" }, q.paused ?
          el("button", { type: "button", class: "primary resume", onclick: () => setQueuePaused(q, false) }, "Resume") :
          el("button", { type: "button", class: "danger pause", onclick: () => setQueuePaused(q, true) }, "Pause")));
    }))));
}

// limitPanel lists GET /v1/limits (flow-limit groups with live work:
// limit, use, window, pending); it fills itself once the answer comes and
// stays hidden while no limit is in use.
function limitPanel() {
  const panel = el("div", { class: "panel", id: "limit-panel", hidden: "" });
  api("GET", "v1/limits").then((r) => {
    const rows = r.limits || [];
    if (!rows.length) return;
    const full = rows.filter((u) => u.in_use >= u.limit).length;
    panel.replaceChildren(el("div", { class: "head" }, el("h2", {}, "Flow limits"),
      el("span", { class: "muted" }, rows.length + " group" + (rows.length === 1 ? "" : "s") + " in use; " + full + " full")),
    el("table", { id: "limits" },
      el("thead", {}, el("tr", {}, ["Limit", "On", "Key", "In use", "Window", "Pending"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((u) => el("tr", { class: "row", "data-group": u.group },
        el("td", {}, u.kind), el("td", {}, (u.scope === "queue" ? "queue " : "") + u.name), el("td", {}, u.key || "—"),
        el("td", {}, u.in_use + " / " + u.limit, u.in_use >= u.limit ? " " : "", u.in_use >= u.limit ? badge("full") : ""),
        el("td", {}, u.per_seconds ? u.per_seconds + " s" : "—"), el("td", {}, u.pending))))));
    panel.hidden = false;
  }).catch(() => {});
  return panel;
}

async function setQueuePaused(q, pause) {
  const name = q.name || "default";
  const ok = pause ?
    await confirmAction("Pause queue " + name + "?", "Workers stop claiming its tasks (" + q.pending + " pending now); running tasks finish. " +
      "Executions keep their place and say \"queue paused\" while they wait. Resume starts them again.", "Pause queue") :
    await confirmAction("Resume queue " + name + "?", "Workers claim its " + q.pending + " pending tasks again.", "Resume queue", null, "primary");
  if (!ok) return;
  try {
    const r = await api("POST", "v1/queues/" + encodeURIComponent(q.name) + "/" + (pause ? "pause" : "resume"), {});
    toast("Queue " + name + (r.paused ? " paused" : " resumed") + (r.changed ? "" : " (it already was)"));
  } catch (e) { toast((pause ? "Pause" : "Resume") + " failed: " + e.message, true); }
  route();
}

// ---- finished per bucket and latency (GET /v1/stats/throughput) ---------

// The store's own history: executions finished per bucket by state, and
// the p50/p95 dispatch-to-finish latency, fetched every 15 s at most.
const HISTORY = { "1h": "1m", "24h": "30m", "7d": "6h" };
S.hist = { window: "1h", data: null, at: 0, loading: false };

async function loadHistory(force) {
  const h = S.hist;
  if (h.loading || (!force && h.data && h.data.asked === h.window && Date.now() - h.at < 15000)) return;
  h.loading = true;
  try {
    // The answer spells durations its own way (24h is "1d"): keep the asked window.
    const asked = h.window;
    h.data = { ...(await api("GET", "v1/stats/throughput" + qs({ window: asked, bucket: HISTORY[asked] }))), asked };
    h.error = "";
  } catch (e) {
    h.error = e.message;
  } finally {
    h.loading = false;
    h.at = Date.now();
  }
  const old = document.getElementById("history");
  if (old) old.replaceWith(historyPanel());
}

function historyPanel() {
  const h = S.hist, d = h.data && h.data.asked === h.window ? h.data : null;
  const pick = el("span", { class: "toolbar windows" }, Object.keys(HISTORY).map((w) =>
    el("button", { type: "button", class: w === h.window ? "primary" : "ghost", "data-window": w,
      onclick: () => { h.window = w; loadHistory(true); document.getElementById("history").replaceWith(historyPanel()); } }, "last " + w)));
  const head = el("div", { class: "head" }, el("h2", {}, "Finished executions and latency (from the store)"), pick);
  if (h.error) return el("div", { class: "panel chart", id: "history" }, head, el("div", { class: "error" }, "Could not load the chart: " + h.error));
  if (!d) return el("div", { class: "panel chart", id: "history" }, head, el("p", { class: "muted" }, "Loading…"));
  const t = d.total, n = t.completed + t.failed + t.cancelled + t.timed_out;
  const summary = el("p", { class: "muted", id: "history-summary" }, n + " finished in the last " + d.asked + " (" +
    t.completed + " completed, " + t.failed + " failed, " + t.cancelled + " cancelled, " + t.timed_out + " timed out); latency p50 " +
    fmtDur(t.p50_ms) + ", p95 " + fmtDur(t.p95_ms) + ", one bar per " + HISTORY[d.asked] + ".");
  return el("div", { class: "panel chart", id: "history" }, head, summary, drawHistory(d),
    el("div", { class: "legend" }, el("span", {}, el("i", { class: "sw-completed" }), "completed"),
      el("span", {}, el("i", { class: "sw-failed" }), "failed"), el("span", {}, el("i", { class: "sw-cancelled" }), "cancelled"),
      el("span", {}, el("i", { class: "sw-timed_out" }), "timed out"), el("span", {}, el("i", { class: "sw-p50" }), "p50 latency (right axis)"),
      el("span", {}, el("i", { class: "sw-p95" }), "p95 latency (right axis)")),
    d.truncated ? el("p", { class: "error small", id: "history-truncated" }, "More than " + d.limit +
      " executions finished in this window; only the most recent " + d.limit + " are counted, so bars before " +
      fmtTime(d.complete_from) + " are too low.") : "");
}

// drawHistory draws stacked bars (finished per bucket by state, left axis)
// and the p50/p95 latency lines (right axis) as inline SVG.
function drawHistory(d) {
  const W = 1000, H = 220, L = 44, R = 60, T = 12, B = 24;
  const root = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", id: "history-chart" });
  const bs = d.buckets || [];
  const states = [["completed", "#23854a"], ["failed", "#c8372d"], ["cancelled", "#6b7280"], ["timed_out", "#b7791f"]];
  const maxN = niceCeil(Math.max(0, ...bs.map((b) => b.completed + b.failed + b.cancelled + b.timed_out)));
  const maxL = niceCeil(Math.max(0, ...bs.map((b) => b.p95_ms || 0)));
  const bw = (W - L - R) / Math.max(1, bs.length);
  const y = (v, m) => H - B - (v / m) * (H - T - B);
  const grid = svg("g", { class: "grid" });
  for (let i = 0; i <= 4; i++) {
    const yy = T + ((H - T - B) * i) / 4;
    grid.append(svg("line", { x1: L, x2: W - R, y1: yy, y2: yy }),
      svg("text", { x: L - 6, y: yy + 4, "text-anchor": "end", text: tick(maxN * (1 - i / 4)) }),
      svg("text", { x: W - R + 6, y: yy + 4, text: fmtDur(maxL * (1 - i / 4)) }));
  }
  const hhmm = (iso) => new Date(iso).toLocaleString(undefined, d.asked === "7d" ?
    { month: "short", day: "numeric", hour: "2-digit", hour12: false } : { hour: "2-digit", minute: "2-digit", hour12: false });
  for (let i = 0; i < bs.length; i += Math.max(1, Math.round(bs.length / 6)))
    grid.append(svg("text", { x: L + i * bw, y: H - 6, text: hhmm(bs[i].start) }));
  grid.append(svg("text", { x: W - R, y: H - 6, "text-anchor": "end", text: "now" }));
  const bars = svg("g", { class: "bars" });
  bs.forEach((b, i) => {
    let base = 0;
    for (const [k, color] of states) {
      if (!b[k]) continue;
      const y0 = y(base, maxN), y1 = y(base + b[k], maxN);
      bars.append(svg("rect", { x: (L + i * bw + bw * 0.12).toFixed(1), width: (bw * 0.76).toFixed(1), y: y1.toFixed(1),
        height: Math.max(0.5, y0 - y1).toFixed(1), fill: color, "data-state": k },
      svg("title", { text: hhmm(b.start) + ": " + b[k] + " " + k.replace("_", " ") })));
      base += b[k];
    }
  });
  const line = (key, color, dash) => {
    const pts = bs.map((b, i) => b[key] === null || b[key] === undefined ? null :
      (L + (i + 0.5) * bw).toFixed(1) + "," + y(b[key], maxL).toFixed(1)).filter(Boolean);
    const g = svg("g", { class: "lat-" + key });
    if (pts.length > 1) g.append(svg("polyline", { fill: "none", stroke: color, "stroke-width": 2, "stroke-dasharray": dash || "",
      "vector-effect": "non-scaling-stroke", points: pts.join(" ") }));
    for (const pt of pts) {
      const [cx, cy] = pt.split(",");
      g.append(svg("circle", { cx, cy, r: 3, fill: color }));
    }
    return g;
  };
  root.append(grid, bars, line("p50_ms", "#3b6fd8"), line("p95_ms", "#8f5bd6", "6 4"));
  if (!bs.some((b) => b.completed + b.failed + b.cancelled + b.timed_out))
    root.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", text: "No execution finished in this window." }));
  return root;
}

// niceCeil rounds a chart maximum up to 4 × (1, 2 or 5 × 10^k), so the
// four grid steps read as round numbers.
function niceCeil(v) {
  if (!(v > 0)) return 4;
  const step = v / 4;
  const p = Math.pow(10, Math.floor(Math.log10(step)));
  const m = [1, 2, 5, 10].find((m) => m * p >= step);
  return 4 * m * p;
}

function tick(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 1 ? 2 : 1);
}
