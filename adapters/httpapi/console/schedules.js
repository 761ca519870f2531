// Stent console: the schedules page. Loaded after app.js (DOM helpers, api(),
// session, router); all console scripts share one global scope, no build step.
"use strict";

// ---- schedules ---------------------------------------------------------

async function pageSchedules() {
  const data = await api("GET", "v1/schedules");
  const list = (data.schedules || []).slice().sort((a, b) => a.name.localeCompare(b.name));
  const paused = list.filter((x) => x.paused).length;
  main().replaceChildren(el("div", { class: "head" }, el("h1", {}, "Schedules"),
    el("span", { class: "muted" }, list.length + " schedule" + (list.length === 1 ? "" : "s") + ", " + paused + " paused")),
  list.length ? el("div", { class: "table-wrap" }, el("table", { id: "schedules" },
    el("thead", {}, el("tr", {}, ["Name", "Cron", "Time zone", "Function", "Next tick", "Last run", "State", ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, list.map((x) => el("tr", { class: "row", "data-schedule": x.name, "data-paused": String(x.paused) },
      el("td", {}, el("b", {}, x.name), el("div", { class: "muted small" }, "catch-up " + catchUp(x.catch_up) + " · overlap " + (x.overlap || "skip"))),
      el("td", { class: "mono" }, x.cron),
      el("td", {}, x.time_zone || "UTC"),
      el("td", {}, x.function),
      el("td", { class: "nowrap", title: "in your browser's time zone; the cron reads in " + (x.time_zone || "UTC") }, x.paused ? el("span", { class: "muted" }, "— (paused)") : [fmtTime(x.next_tick), el("div", { class: "muted small" }, until(x.next_tick))]),
      el("td", { class: "nowrap" }, x.last_tick ? [el("span", { title: fmtTime(x.last_tick) }, ago(x.last_tick)),
        x.last_execution_id ? el("div", { class: "small" }, el("a", { href: "#/executions/" + encodeURIComponent(x.last_execution_id), class: "mono", title: x.last_execution_id }, truncate(x.last_execution_id, 16))) : ""] :
        el("span", { class: "muted" }, "never")),
      el("td", { class: "schedule-state" }, x.paused ? badge("paused") : badge("active")),
      el("td", { class: "actions" },
        x.paused ?
          el("button", { type: "button", class: "primary resume", onclick: () => scheduleAction(x, "resume") }, "Resume") :
          el("button", { type: "button", class: "pause", onclick: () => scheduleAction(x, "pause") }, "Pause"),
        el("button", { type: "button", class: "trigger", onclick: () => scheduleAction(x, "trigger") }, "Run now"))))))) :
    el("div", { class: "empty table-wrap" }, "No schedules. Declare one with app.Schedule, `stent schedule create` or POST /v1/schedules."));
}

function catchUp(c) {
  if (!c) return "once";
  if (typeof c === "string") return c;
  return c.mode + (c.bound ? ":" + c.bound : "");
}

function until(s) {
  const ms = new Date(s).getTime() - Date.now();
  return ms >= 0 ? "in " + fmtDur(ms) : fmtDur(-ms) + " overdue";
}

async function scheduleAction(x, what) {
  const texts = {
    pause: ["Pause schedule " + x.name + "?", "It stops starting " + x.function + " until it is resumed; ticks missed meanwhile follow its catch-up policy.", "Pause"],
    resume: ["Resume schedule " + x.name + "?", "It starts " + x.function + " again at its next tick (" + x.cron + ", " + (x.time_zone || "UTC") + ").", "Resume", null, "primary"],
    trigger: ["Run schedule " + x.name + " now?", "One execution of " + x.function + " starts now, outside the cron; the next tick stays as it is.", "Run now", null, "primary"],
  };
  if (!(await confirmAction(...texts[what]))) return;
  try {
    const r = await api("POST", "v1/schedules/" + encodeURIComponent(x.name) + "/" + what, {});
    toast(what === "trigger" ? "Started execution " + r.execution_id : "Schedule " + x.name + (r.paused ? " paused" : " resumed"));
    if (what === "trigger") refreshStats();
  } catch (e) { toast(what + " failed: " + e.message, true); }
  route();
}

function bar(name, n, max) {
  const fill = el("div", { class: "fill" });
  fill.style.width = Math.round((100 * n) / max) + "%";
  return el("div", { class: "bar" }, el("span", { class: "name", title: name }, name || "(default)"), el("div", { class: "track" }, fill), el("b", {}, n));
}

// drawThroughput plots the per-second rates between successive /v1/stats
// samples this page took (the store keeps counts, not history).
function drawThroughput() {
  const W = 1000, H = 220, L = 44, R = 44, T = 12, B = 24;
  const root = svg("svg", { viewBox: "0 0 " + W + " " + H, preserveAspectRatio: "none", id: "throughput-chart" });
  const s = S.samples;
  if (s.length < 2) {
    root.append(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle", text: "Collecting samples (one every few seconds)…" }));
    return root;
  }
  const pts = [];
  for (let i = 1; i < s.length; i++) {
    const dt = (s[i].t - s[i - 1].t) / 1000 || 1;
    pts.push({ t: s[i].t, rate: Math.max(0, (s[i].finished - s[i - 1].finished) / dt), fail: Math.max(0, (s[i].failed - s[i - 1].failed) / dt), pending: s[i].pending });
  }
  const t0 = s[0].t, t1 = s[s.length - 1].t;
  const maxRate = niceCeil(Math.max(...pts.map((p) => p.rate)));
  const maxPend = niceCeil(Math.max(...pts.map((p) => p.pending)));
  const x = (t) => L + ((t - t0) / (t1 - t0 || 1)) * (W - L - R);
  const y = (v, m) => H - B - (v / m) * (H - T - B);
  const grid = svg("g", { class: "grid" });
  for (let i = 0; i <= 4; i++) {
    const yy = T + ((H - T - B) * i) / 4;
    grid.append(svg("line", { x1: L, x2: W - R, y1: yy, y2: yy }),
      svg("text", { x: L - 6, y: yy + 4, "text-anchor": "end", text: tick(maxRate * (1 - i / 4)) }),
      svg("text", { x: W - R + 6, y: yy + 4, text: tick(maxPend * (1 - i / 4)) }));
  }
  grid.append(svg("text", { x: L, y: H - 6, text: "−" + fmtDur(t1 - t0) }), svg("text", { x: W - R, y: H - 6, "text-anchor": "end", text: "now" }));
  const line = (key, m, color, width) => svg("polyline", { fill: "none", stroke: color, "stroke-width": width,
    "vector-effect": "non-scaling-stroke", points: pts.map((p) => x(p.t).toFixed(1) + "," + y(p[key], m).toFixed(1)).join(" ") });
  root.append(grid, line("pending", maxPend, "#3b6fd8", 1.5), line("fail", maxRate, "#c8372d", 2), line("rate", maxRate, "#23854a", 2.5));
  return root;
}
