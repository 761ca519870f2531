// Stent console: plain JavaScript over the public JSON API (/v1), no
// build step, no third-party code. Every URL is relative, so the console
// works when mounted under a prefix. Data is put into the page with
// textContent only (never innerHTML), so nothing from the store runs.
"use strict";

const S = {
  csrf: "",
  authRequired: true,
  samples: [], // {t, finished, failed, pending} from /v1/stats, for the throughput chart
  timer: null,
  pageTimer: null,
};

const EXEC_STATES = ["pending", "running", "completed", "failed", "timed_out", "cancelled"];
const LIVE = new Set(["pending", "running"]);

// ---- DOM helpers -------------------------------------------------------

function el(tag, attrs, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") n.className = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else if (k === "text") n.textContent = v;
    else n.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === undefined || kid === null || kid === false) continue;
    n.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return n;
}

const SVGNS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...kids) {
  const n = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else if (k === "text") n.textContent = v;
    else n.setAttribute(k, v);
  }
  for (const kid of kids.flat()) if (kid) n.append(kid);
  return n;
}

const $ = (sel) => document.querySelector(sel);
const main = () => $("#main");

function badge(state) {
  return el("span", { class: "badge " + state, text: String(state).replace("_", " ") });
}

function fmtTime(s) {
  if (!s) return "—";
  const d = new Date(s);
  return d.toLocaleString(undefined, { hour12: false });
}

function fmtDur(ms) {
  if (ms === null || ms === undefined || isNaN(ms)) return "—";
  if (ms < 1000) return Math.round(ms) + " ms";
  const s = ms / 1000;
  if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m " + Math.round(s % 60) + "s";
  const h = Math.floor(m / 60);
  if (h < 48) return h + "h " + (m % 60) + "m";
  return Math.floor(h / 24) + "d " + (h % 24) + "h";
}

function ago(s) {
  if (!s) return "—";
  return fmtDur(Date.now() - new Date(s).getTime()) + " ago";
}

function pretty(raw) {
  if (raw === undefined || raw === null) return "—";
  try {
    return JSON.stringify(typeof raw === "string" ? JSON.parse(raw) : raw, null, 2);
  } catch (_) {
    return String(raw);
  }
}

function json(v) {
  return JSON.stringify(v === undefined ? null : v);
}

function toast(msg, bad) {
  const t = $("#toast");
  t.textContent = msg;
  t.className = "toast" + (bad ? " bad" : "");
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), bad ? 7000 : 3500);
}

// confirmAction opens the confirmation dialog; resolves true on Confirm.
// extra, when given, is a form part shown under the text (the fork and
// reset dialogs put their step picker there); it may disable the Confirm
// button (#confirm-yes) while its fields are not valid. tone "primary"
// paints Confirm blue for an action that loses nothing (fork, resume, run
// now); the default is red.
function confirmAction(title, text, label, extra, tone) {
  const d = $("#confirm");
  $("#confirm-title").textContent = title;
  $("#confirm-text").textContent = text;
  $("#confirm-yes").textContent = label || "Confirm";
  $("#confirm-yes").disabled = false;
  $("#confirm-yes").className = tone || "danger";
  $("#confirm-extra").replaceChildren(...(extra ? [extra] : []));
  if (extra && extra.check) extra.check();
  return new Promise((resolve) => {
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    d.returnValue = "";
    d.showModal();
  });
}

// ---- API ---------------------------------------------------------------

class APIError extends Error {
  constructor(status, body) {
    super((body && body.error && body.error.message) || "HTTP " + status);
    this.status = status;
    this.code = body && body.error && body.error.code;
  }
}

async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") {
    opts.headers["X-Stent-CSRF"] = S.csrf;
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = typeof body === "string" ? body : JSON.stringify(body);
    }
  }
  const r = await fetch(path, opts);
  let data = null;
  const text = await r.text();
  if (text) {
    try { data = JSON.parse(text); } catch (_) { data = null; }
  }
  if (r.status === 401) {
    showLogin("Your session ended; log in again.");
    throw new APIError(401, data);
  }
  if (!r.ok) throw new APIError(r.status, data);
  return data;
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") u.set(k, v);
  const s = u.toString();
  return s ? "?" + s : "";
}

// ---- session -----------------------------------------------------------

async function loadSession() {
  const r = await fetch("console/session", { credentials: "same-origin" });
  const s = await r.json();
  S.authRequired = s.auth_required;
  S.csrf = s.csrf || "";
  return s.authenticated;
}

function showLogin(msg) {
  stopTimers();
  $("#nav").hidden = true;
  $("#logout").hidden = true;
  $("#counts").hidden = true;
  $("#live").hidden = true;
  const err = el("div", { class: "formerr", id: "login-error", text: msg || "" });
  const input = el("input", { type: "password", name: "token", id: "token", autocomplete: "current-password", required: true, placeholder: "STENT_HTTP_TOKEN" });
  const form = el("form", { id: "login-form" },
    el("label", {}, "API token", input),
    err,
    el("button", { class: "primary", type: "submit", id: "login-submit" }, "Log in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    const r = await fetch("console/login", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: input.value }).toString(),
    });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) {
      err.textContent = (data.error && data.error.message) || "login failed (HTTP " + r.status + ")";
      input.select();
      return;
    }
    S.csrf = data.csrf || "";
    if (!location.hash || location.hash === "#/login") location.hash = "#/executions";
    start();
  });
  main().replaceChildren(el("div", { class: "login panel" },
    el("h1", {}, "Stent console"),
    el("p", { class: "muted" }, "Log in with the server's API token. It is kept in an HttpOnly session cookie, never in the page."),
    form));
  input.focus();
}

async function logout() {
  await fetch("console/logout", { method: "POST", credentials: "same-origin" });
  S.csrf = "";
  location.hash = "#/login";
  showLogin("Logged out.");
}

// ---- live counts (every page) ------------------------------------------

async function refreshStats() {
  let st;
  try {
    st = await api("GET", "v1/stats");
  } catch (_) {
    return null;
  }
  const ex = st.executions || {};
  const now = Date.now();
  const finished = (ex.completed || 0) + (ex.failed || 0) + (ex.cancelled || 0) + (ex.timed_out || 0);
  S.samples.push({ t: now, finished, failed: (ex.failed || 0) + (ex.timed_out || 0), pending: sum(st.queue_depth || {}), running: (st.tasks || {}).running || 0 });
  if (S.samples.length > 120) S.samples.shift();
  const c = $("#counts");
  c.replaceChildren(
    ...EXEC_STATES.map((s) => el("button", { class: "count", type: "button", "data-state": s, title: "Show " + s + " executions",
      onclick: () => (location.hash = "#/executions" + qs({ state: s })) }, badge(s), el("b", { text: ex[s] || 0 }))),
    el("button", { class: "count dl", type: "button", onclick: () => (location.hash = "#/dead-letters") },
      "dead letters", el("b", { id: "count-dead-letters", text: st.dead_letters || 0 })));
  c.hidden = false;
  $("#dl-count").textContent = st.dead_letters ? String(st.dead_letters) : "";
  $("#live").textContent = "live · " + new Date(now).toLocaleTimeString(undefined, { hour12: false });
  $("#live").hidden = false;
  return st;
}

function sum(m) {
  return Object.values(m).reduce((a, b) => a + b, 0);
}

function stopTimers() {
  clearInterval(S.timer);
  clearInterval(S.pageTimer);
  S.timer = S.pageTimer = null;
}

// ---- router ------------------------------------------------------------

function route() {
  const h = location.hash.replace(/^#/, "") || "/executions";
  const [path, query] = h.split("?");
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  const parts = path.split("/").filter(Boolean);
  clearInterval(S.pageTimer);
  S.pageTimer = null;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === parts[0]);
  const page = parts[0] || "executions";
  let render;
  if (page === "login") return showLogin();
  if (page === "executions" && parts[1]) render = () => pageExecution(decodeURIComponent(parts[1]), params);
  else if (page === "executions") render = () => pageExecutions(params);
  else if (page === "dead-letters") render = () => pageDeadLetters(params);
  else if (page === "queues") render = () => pageQueues();
  else if (page === "workers") render = () => pageWorkers();
  else if (page === "schedules") render = () => pageSchedules();
  else render = () => main().replaceChildren(el("p", {}, "No such page: ", path));
  render().catch((e) => {
    if (e.status !== 401) main().replaceChildren(el("div", { class: "error" }, "Could not load this page: " + e.message));
  });
}

async function start() {
  let ok;
  try {
    ok = await loadSession();
  } catch (e) {
    main().replaceChildren(el("div", { class: "error" }, "The server does not answer: " + e.message));
    return;
  }
  if (!ok) return showLogin();
  $("#nav").hidden = false;
  $("#logout").hidden = !S.authRequired;
  if (location.hash === "#/login") location.hash = "#/executions";
  stopTimers();
  refreshStats();
  S.timer = setInterval(refreshStats, 5000);
  route();
}

// ---- executions list ---------------------------------------------------

const PAGE = 25;
// "Created within" choices: the list asks for runs created since now minus it.
const WITHIN = [["", "any time"], ["15m", "last 15 min", 15 * 60e3], ["1h", "last hour", 3600e3],
  ["24h", "last 24 hours", 86400e3], ["7d", "last 7 days", 7 * 86400e3]];

// localInput turns an RFC 3339 time into a datetime-local value (the
// browser's zone) and back: the hash keeps RFC 3339, the API wants it.
function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return "";
  const z = new Date(d.getTime() - d.getTimezoneOffset() * 60e3);
  return z.toISOString().slice(0, 16);
}
function fromLocal(v) {
  if (!v) return "";
  const d = new Date(v);
  return isNaN(d) ? "" : d.toISOString();
}

async function pageExecutions(p) {
  const limit = PAGE;
  const form = el("form", { class: "filters panel", id: "exec-filters" },
    el("label", {}, "State", el("select", { name: "state" }, el("option", { value: "" }, "any"),
      EXEC_STATES.map((s) => el("option", { value: s, selected: p.state === s }, s.replace("_", " "))))),
    el("label", {}, "Function", el("input", { name: "function", value: p.function || "", placeholder: "exact name" })),
    el("label", {}, "Queue", el("input", { name: "queue", value: p.queue || "", placeholder: "exact name" })),
    el("label", {}, "Version", el("input", { name: "version", class: "narrow", value: p.version || "", placeholder: "e.g. v2" })),
    el("label", {}, "Tags", el("input", { name: "tag", value: p.tag || "", placeholder: "all of: a, b" })),
    el("label", {}, "Id prefix", el("input", { name: "id", class: "wide", value: p.id || "", placeholder: "0197… or a full id" })),
    el("label", {}, "Text in input / result / error", el("input", { name: "q", class: "wide", value: p.q || "", placeholder: "e.g. an order number" })),
    el("label", {}, "Created", el("select", { name: "within" },
      WITHIN.map(([v, label]) => el("option", { value: v, selected: (p.within || "") === v }, label)))),
    el("label", {}, "or from", el("input", { name: "from", type: "datetime-local", class: "when", value: localInput(p.from) })),
    el("label", {}, "before", el("input", { name: "before", type: "datetime-local", class: "when", value: localInput(p.before) })),
    el("button", { class: "primary", type: "submit", id: "apply-filters" }, "Filter"),
    el("button", { type: "button", class: "ghost", onclick: () => (location.hash = "#/executions") }, "Clear"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = Object.fromEntries(new FormData(form));
    // The field shows minutes; an unchanged one keeps the link's exact time.
    f.from = f.from === localInput(p.from) ? p.from : fromLocal(f.from);
    f.before = f.before === localInput(p.before) ? p.before : fromLocal(f.before);
    location.hash = "#/executions" + qs(f);
  });
  const body = el("div", {}, el("p", { class: "muted" }, "Loading…"));
  main().replaceChildren(el("div", { class: "head" }, el("h1", {}, "Executions")), form, body);

  // Every filter is the API's (server-side, paged by cursor).
  const base = { state: p.state, function: p.function, queue: p.queue, version: p.version, tag: p.tag,
    id: p.id, q: p.q, within: p.within, from: p.from, before: p.before };
  const w = WITHIN.find(([v]) => v && v === p.within);
  const query = new URLSearchParams(qs({ state: p.state, function: p.function, queue: p.queue, version: p.version,
    id_prefix: (p.id || "").trim(), text: (p.q || "").trim(),
    created_from: p.from || (w ? new Date(Date.now() - w[2]).toISOString() : ""), created_before: p.before,
    limit, cursor: p.cursor, offset: p.cursor ? "" : p.offset }).slice(1));
  for (const t of (p.tag || "").split(",").map((x) => x.trim()).filter(Boolean)) query.append("tag", t);
  let page;
  try {
    page = await api("GET", "v1/executions?" + query.toString());
  } catch (e) {
    if (e.status !== 400) throw e;
    body.replaceChildren(el("div", { class: "error", id: "filter-error" }, "The filters were refused: " + e.message));
    return;
  }
  const rows = page.executions || [];
  const offset = Number(p.offset || 0);
  const hasMore = page.next ? true : rows.length === limit;
  const prevStack = p.prev ? p.prev.split(",") : [];
  const prev = () => {
    if (page.next !== undefined || p.cursor) {
      const stack = prevStack.slice();
      const c = stack.pop();
      location.hash = "#/executions" + qs({ ...base, cursor: c === "-" ? "" : c, prev: stack.join(",") });
    } else location.hash = "#/executions" + qs({ ...base, offset: Math.max(0, offset - limit) });
  };
  const next = () => {
    if (page.next) location.hash = "#/executions" + qs({ ...base, cursor: page.next, prev: prevStack.concat([p.cursor || "-"]).join(",") });
    else location.hash = "#/executions" + qs({ ...base, offset: offset + limit });
  };
  const first = !p.cursor && offset === 0;
  const names = { state: "state", function: "function", queue: "queue", version: "version", tag: "tags", id: "id prefix",
    q: "text", within: "created within", from: "created from", before: "created before" };
  const filtered = Object.keys(names).filter((k) => p[k]).map((k) => names[k]);
  const nav = el("div", { class: "toolbar" },
    el("button", { type: "button", id: "prev-page", disabled: first, onclick: prev }, "← Newer"),
    el("button", { type: "button", id: "next-page", disabled: !hasMore, onclick: next }, "Older →"),
    el("span", { class: "muted" }, page.next !== undefined || p.cursor ? "page " + (prevStack.length + 1) : "rows " + (offset + 1) + "–" + (offset + rows.length)));
  body.replaceChildren(
    filtered.length ? el("p", { class: "muted", id: "search-note" }, rows.length + (hasMore ? "+" : "") + " match" +
      (rows.length === 1 && !hasMore ? "" : "es") + " (filtered by the server: " + filtered.join(", ") + ")") : "",
    execTable(rows),
    nav);
}

function execTable(rows) {
  if (!rows.length) return el("div", { class: "empty table-wrap" }, "No executions match.");
  // The version column shows only when a listed run has a version.
  const versioned = rows.some((x) => x.version);
  return el("div", { class: "table-wrap" }, el("table", { id: "executions" },
    el("thead", {}, el("tr", {}, ["Id", "Function", versioned ? "Version" : null, "State", "Queue", "Created", "Duration", "Input"]
      .filter(Boolean).map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((x) => {
      const end = x.finished_at ? new Date(x.finished_at) : LIVE.has(x.state) ? new Date() : null;
      const startT = x.started_at || x.created_at;
      return el("tr", { class: "row", "data-id": x.id, "data-state": x.state },
        el("td", { class: "id" }, el("a", { href: "#/executions/" + encodeURIComponent(x.id), title: x.id }, x.id)),
        el("td", {}, x.root_function, x.forked_from ? el("div", { class: "muted small" }, "fork") : ""),
        versioned ? el("td", { class: "version" }, x.version ? el("span", { class: "tag" }, x.version) : el("span", { class: "muted" }, "—")) : "",
        el("td", {}, badge(x.state)),
        el("td", {}, x.queue),
        el("td", { class: "nowrap", title: fmtTime(x.created_at) }, ago(x.created_at)),
        el("td", {}, end ? fmtDur(end - new Date(startT)) : "—"),
        el("td", { class: "mono muted" }, truncate(x.input ? json(x.input) : "", 60)));
    }))));
}

function truncate(s, n) {
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

// ---- execution detail --------------------------------------------------

async function pageExecution(id, p) {
  const enc = encodeURIComponent(id);
  const [v, sigs, dls] = await Promise.all([
    api("GET", "v1/executions/" + enc),
    api("GET", "v1/executions/" + enc + "/signals").catch(() => ({ signals: [] })),
    api("GET", "v1/dead-letters" + qs({ execution_id: id, limit: 100 })).catch(() => ({ dead_letters: [] })),
  ]);
  const live = LIVE.has(v.state);
  const actions = el("div", { class: "head" });
  if (live) {
    actions.append(el("button", { class: "danger", id: "cancel", type: "button", onclick: async () => {
      if (!(await confirmAction("Cancel this execution?", "Execution " + id + " (" + v.root_function + ") and every live step of it become cancelled. This cannot be undone.", "Cancel execution"))) return;
      try {
        const r = await api("POST", "v1/executions/" + enc + "/cancel");
        toast("Execution is now " + r.state);
      } catch (e) { toast("Cancel failed: " + e.message, true); }
      route();
    } }, "Cancel execution"));
  }
  actions.append(el("button", { id: "fork", type: "button", title: "Start a new execution that keeps the steps before the one you pick",
    onclick: () => repair(v, "fork") }, "Fork from step…"));
  if (RESETTABLE.has(v.state)) {
    actions.append(el("button", { class: "danger", id: "reset", type: "button", title: "Run this execution again from the step you pick",
      onclick: () => repair(v, "reset") }, "Reset from step…"));
  }
  const header = el("div", { class: "panel" },
    el("div", { class: "head" },
      el("h1", {}, v.root_function),
      v.version ? el("span", { class: "tag", id: "exec-version", title: "function version" }, v.version) : "",
      el("span", { id: "exec-state" }, badge(v.state)),
      el("span", { class: "spacer" }),
      actions),
    el("div", { class: "mono muted" }, v.id),
    v.forked_from ? el("div", { class: "forked", id: "forked-from" }, "Forked from ",
      el("a", { href: "#/executions/" + encodeURIComponent(v.forked_from), class: "mono" }, v.forked_from)) : "",
    v.wait_reason ? el("div", { class: "wait", id: "wait-reason" }, el("b", {}, "Why it waits: "), v.wait_reason) : "",
    v.outcome && v.outcome.error ? el("div", { class: "error", id: "exec-error" },
      el("b", {}, (v.outcome.error.code || "error") + ": "), v.outcome.error.message) : "");

  const summary = el("div", { class: "panel" }, el("h2", {}, "Summary"), el("dl", { class: "kv" },
    kv("Queue", v.queue), kv("Priority", v.priority), kv("Tags", (v.tags || []).join(", ") || "—"),
    kv("Created", fmtTime(v.created_at)), kv("Started", fmtTime(v.started_at)), kv("Finished", fmtTime(v.finished_at)),
    kv("Scheduled for", fmtTime(v.scheduled_for)), kv("Deadline", fmtTime(v.deadline)),
    kv("Root attempts", v.root_attempts), kv("Recoveries", v.root_recoveries),
    kv("Idempotency key", v.idempotency_key || "—"),
    v.version ? kv("Version", v.version) : "",
    v.forked_from ? kvNode("Forked from", el("a", { href: "#/executions/" + encodeURIComponent(v.forked_from), class: "mono" }, v.forked_from)) : "",
    v.singleton_key ? kv("Singleton key", v.singleton_key) : "",
    v.debounce_key ? kv("Debounce key", v.debounce_key) : ""));
  const io = el("div", { class: "panel" }, el("h2", {}, "Input"), el("pre", { id: "exec-input" }, pretty(v.input)),
    el("h2", { class: "mt" }, v.state === "completed" ? "Result" : "Outcome"),
    el("pre", { id: "exec-result" }, v.outcome ? pretty(v.state === "completed" ? v.outcome.value : v.outcome.error) : "not finished yet"));

  const detail = el("div", { class: "panel", id: "step-detail" }, el("h2", {}, "Step"), el("p", { class: "muted" }, "Click a step in the timeline to see its input, output and errors."));
  const timeline = el("div", { class: "panel timeline" }, el("h2", {}, "Step timeline"),
    drawTimeline(v, (entry, lane) => showStep(v, entry, detail, lane)),
    el("div", { class: "legend" }, ["queued", "pending", "running", "waiting", "completed", "failed", "cancelled"].map((s) => el("span", {}, el("i", { class: "sw-" + s }), s))));

  const counters = el("div", { class: "panel" }, el("h2", {}, "Counters"), kvTable(v.counters, (x) => String(x)),
    el("h2", {}, "Custom state"), kvTable(v.custom_state, (x) => pretty(x)));

  const signals = sigs.signals || [];
  const sigPanel = el("div", { class: "panel", id: "signals" }, el("h2", {}, "Signals"),
    signals.length ? el("table", {}, el("thead", {}, el("tr", {}, ["Name", "Seq", "Sent", "Status", "Payload", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, signals.map((s) => el("tr", {},
        el("td", {}, s.name), el("td", {}, s.seq), el("td", {}, ago(s.created_at)),
        el("td", {}, s.consumed_by ? el("span", { class: "muted" }, "received") : el("b", {}, "pending")),
        el("td", { class: "mono" }, truncate(json(s.payload), 80)),
        el("td", { class: "actions" }, s.consumed_by ? "" : el("button", { type: "button", onclick: async () => {
          if (!(await confirmAction("Discard this signal?", "Pending message " + s.seq + " of signal \"" + s.name + "\" is deleted; the workflow never receives it.", "Discard"))) return;
          try {
            await api("DELETE", "v1/executions/" + enc + "/signals/" + encodeURIComponent(s.name) + "/" + s.seq);
            toast("Signal discarded");
          } catch (e) { toast("Discard failed: " + e.message, true); }
          route();
        } }, "Discard")))))) : el("p", { class: "muted" }, "No signals sent."),
    live ? signalForm(id) : "");

  const deadLetters = dls.dead_letters || [];
  const dlPanel = deadLetters.length ? el("div", { class: "panel" }, el("h2", {}, "Dead letters of this execution"), dlTable(deadLetters, true)) : "";

  main().replaceChildren(
    el("p", {}, el("a", { href: "#/executions" }, "← Executions")),
    header, dlPanel, timeline, detail,
    el("div", { class: "grid2" }, summary, io),
    el("div", { class: "grid2" }, sigPanel, counters));
  if (live) S.pageTimer = setInterval(() => refreshIfState(id, v.state, v.wait_reason), 3000);
}

// refreshIfState reloads the detail page when the execution moved on.
async function refreshIfState(id, state, reason) {
  try {
    const v = await api("GET", "v1/executions/" + encodeURIComponent(id));
    if (v.state !== state || (v.wait_reason || "") !== (reason || "")) route();
  } catch (_) { /* the next tick tries again */ }
}

function kv(k, v) {
  return [el("dt", {}, k), el("dd", {}, v === undefined || v === null || v === "" ? "—" : String(v))];
}

function kvNode(k, node) {
  return [el("dt", {}, k), el("dd", {}, node)];
}

// ---- fork and reset ----------------------------------------------------

const RESETTABLE = new Set(["failed", "timed_out", "cancelled"]);

// topSteps lists the workflow body's top-level calls in order: step N is
// the root's child at position N (the "#" of stent show), what fork and
// reset number.
function topSteps(v) {
  return (v.progress || []).filter((e) => e.parent_task_id && e.parent_task_id === v.root_task_id && e.position > 0)
    .sort((a, b) => a.position - b.position);
}

// defaultStep picks the first top-level step that did not complete (the
// one a repair usually starts from), else the one after the last.
function defaultStep(steps) {
  const bad = steps.find((e) => e.state !== "completed");
  return bad ? bad.position : steps.length + 1;
}

// repair opens the fork or reset dialog: a step picker (the steps before
// the picked one must have completed: only results are kept) and, for a
// fork, the input to run with. On Confirm it posts through api() (so with
// the CSRF header); a fork then opens the new execution.
async function repair(v, kind, step) {
  const steps = topSteps(v);
  const last = steps.length + 1;
  const pick = step || defaultStep(steps);
  const okUpTo = (n) => steps.filter((e) => e.position < n).every((e) => e.state === "completed");
  const select = el("select", { id: "repair-step", name: "from_step" },
    steps.map((e) => el("option", { value: e.position, selected: e.position === pick, disabled: !okUpTo(e.position) },
      "Step " + e.position + " · " + e.step + " (" + e.state + ")")),
    el("option", { value: last, selected: pick === last, disabled: !okUpTo(last) },
      "Step " + last + " · after the last recorded step" + (steps.length ? "" : " (the whole body)")));
  const note = el("p", { class: "muted small", id: "repair-note" });
  const box = el("div", { class: "repair" }, el("label", {}, "Run again from", select), note);
  let input = null, msg = null;
  const original = pretty(v.input);
  if (kind === "fork") {
    input = el("textarea", { id: "repair-input", spellcheck: "false" }, v.input === undefined ? "null" : original);
    msg = el("div", { class: "formerr ok-text", id: "repair-input-msg" });
    box.append(el("label", {}, "Input (JSON; edit it to run the fork with another)", input), msg);
  }
  box.check = () => {
    const n = Number(select.value);
    const kept = steps.filter((e) => e.position < n).map((e) => "#" + e.position + " " + e.step);
    note.textContent = (kept.length ? "Kept with their results, never run again: " + kept.join(", ") + ". " : "No step is kept: the body runs from the start. ") +
      (n < last ? "Step " + n + " and every later one run again with the code registered now." : "Every recorded step is kept; the rest of the body runs again.");
    let ok = true;
    if (input) {
      try {
        JSON.parse(input.value.trim() === "" ? "null" : input.value);
        msg.className = "formerr ok-text";
        msg.textContent = input.value.trim() === original.trim() ? "the original input" : "valid JSON (a new input)";
      } catch (e) {
        ok = false;
        msg.className = "formerr";
        msg.textContent = "Not valid JSON: " + e.message;
      }
    }
    $("#confirm-yes").disabled = !ok;
  };
  select.addEventListener("change", box.check);
  select.addEventListener("input", box.check);
  if (input) input.addEventListener("input", box.check);
  const enc = encodeURIComponent(v.id);
  if (kind === "fork") {
    if (!(await confirmAction("Fork this execution?", "A new execution of " + v.root_function + " starts; this one (" + v.state + ") is left as it is.", "Fork", box, "primary"))) return;
    const body = { from_step: Number(select.value) };
    if (input.value.trim() !== original.trim()) body.input = JSON.parse(input.value.trim() === "" ? "null" : input.value);
    try {
      const r = await api("POST", "v1/executions/" + enc + "/fork", body);
      toast("Forked from step " + r.from_step + " into " + r.execution_id);
      refreshStats();
      location.hash = "#/executions/" + encodeURIComponent(r.execution_id);
    } catch (e) { toast("Fork failed: " + e.message, true); }
    return;
  }
  if (!(await confirmAction("Reset this execution?", "Execution " + v.id + " (" + v.state + ") becomes pending again under the same id. " +
    "The records of the steps that run again are deleted, with their dead letters.", "Reset", box))) return;
  try {
    const r = await api("POST", "v1/executions/" + enc + "/reset", { from_step: Number(select.value) });
    toast("Reset from step " + r.from_step + ": " + r.state);
    refreshStats();
  } catch (e) { toast("Reset failed: " + e.message, true); }
  route();
}

function kvTable(m, fmt) {
  const keys = Object.keys(m || {});
  if (!keys.length) return el("p", { class: "muted" }, "none");
  return el("dl", { class: "kv" }, keys.sort().map((k) => kv(k, fmt(m[k]))));
}

function signalForm(id) {
  const name = el("input", { name: "signal-name", id: "signal-name", placeholder: "approval", required: true });
  const payload = el("textarea", { id: "signal-payload", spellcheck: "false" }, "{\n  \"ok\": true\n}");
  const msg = el("div", { class: "formerr", id: "signal-json-error" });
  const send = el("button", { class: "primary", type: "submit", id: "signal-send" }, "Send signal");
  const check = () => {
    let ok = true;
    try {
      JSON.parse(payload.value.trim() === "" ? "null" : payload.value);
      msg.textContent = "";
      msg.className = "formerr ok-text";
      msg.textContent = "valid JSON";
    } catch (e) {
      ok = false;
      msg.className = "formerr";
      msg.textContent = "Not valid JSON: " + e.message;
    }
    send.disabled = !ok || name.value.trim() === "";
    return ok;
  };
  payload.addEventListener("input", check);
  name.addEventListener("input", check);
  const form = el("form", { id: "signal-form" }, el("h3", {}, "Send a signal"),
    el("label", {}, "Name", name), el("label", {}, "Payload (JSON)", payload), msg, send);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!check()) return;
    const body = payload.value.trim() === "" ? "null" : JSON.stringify(JSON.parse(payload.value));
    if (!(await confirmAction("Send signal \"" + name.value.trim() + "\"?", "Payload: " + body, "Send"))) return;
    try {
      await api("POST", "v1/executions/" + encodeURIComponent(id) + "/signals/" + encodeURIComponent(name.value.trim()), body);
      toast("Signal sent");
    } catch (e) { toast("Send failed: " + e.message, true); return; }
    route();
  });
  check();
  return form;
}

async function showStep(v, entry, panel, lane) {
  const execID = v.id;
  for (const l of document.querySelectorAll(".timeline .lane")) l.classList.remove("selected");
  if (lane) lane.classList.add("selected");
  panel.replaceChildren(el("h2", {}, "Step ", entry.step), el("p", { class: "muted" }, "Loading…"));
  let t, dl = null;
  try {
    t = await api("GET", "v1/executions/" + encodeURIComponent(execID) + "/tasks/" + encodeURIComponent(entry.task_id));
    // A failed step may sit in the dead letters (404 when it does not).
    if (t.state === "failed") dl = await api("GET", "v1/dead-letters/" + encodeURIComponent(t.id)).catch(() => null);
  } catch (e) {
    panel.replaceChildren(el("h2", {}, "Step ", entry.step), el("div", { class: "error" }, e.message));
    return;
  }
  // A step recorded as it ran inline may carry a start a moment before its
  // record: no queueing then.
  const wait = t.started_at && t.created_at ? Math.max(0, new Date(t.started_at) - new Date(t.created_at)) : null;
  const run = t.finished_at && t.started_at ? new Date(t.finished_at) - new Date(t.started_at) : null;
  panel.replaceChildren(
    el("div", { class: "head" }, el("h2", {}, "Step #" + t.position + " · " + t.step_name), badge(t.state), el("span", { class: "muted" }, t.kind),
      el("span", { class: "spacer" }),
      // A top-level step is what fork and reset start from.
      entry.parent_task_id && entry.parent_task_id === v.root_task_id ? [
        el("button", { type: "button", class: "fork-here", onclick: () => repair(v, "fork", entry.position) }, "Fork from step " + entry.position),
        RESETTABLE.has(v.state) ? el("button", { type: "button", class: "danger reset-here", onclick: () => repair(v, "reset", entry.position) }, "Reset from step " + entry.position) : "",
      ] : ""),
    el("div", { class: "grid2" },
      el("dl", { class: "kv" }, kv("Task id", t.id), kv("Attempts", t.attempt + (t.retry_policy && t.retry_policy.max_attempts ? " of " + t.retry_policy.max_attempts : "")),
        kv("Recoveries", t.recoveries), kv("Queue", t.queue), kv("Worker", t.worker_id || "—"),
        kv("Queued for", fmtDur(wait)), kv("Ran for", fmtDur(run)), kv("Wakes at", fmtTime(t.wake_at || t.scheduled_for))),
      el("div", {},
        el("h3", {}, "Input"), el("pre", { class: "step-input" }, pretty(t.input)),
        el("h3", {}, "Output"), el("pre", { class: "step-output" }, t.result !== undefined ? pretty(t.result) : "—"))),
    errorHistory(t, dl));
}

// errorHistory lists what the store keeps of a step's failures: the
// latest error, the error of the attempt before (last_error, set on each
// retry and on a lost lease), and the dead letter when the step was moved
// there. Older attempts' errors are not stored.
function errorHistory(t, dl) {
  const rows = [];
  const n = t.attempt;
  if (t.error) rows.push(["Attempt " + n + (t.state === "failed" ? " (final)" : ""), fmtTime(t.finished_at), t.error]);
  if (t.last_error && !(t.error && t.error.message === t.last_error.message && t.error.code === t.last_error.code)) {
    const lost = (t.last_error.codes || [t.last_error.code]).includes("lease_lost");
    // A retry leaves the task pending with Attempt = the attempt that
    // failed; once claimed again (or failed for good) it is the one before.
    const which = lost ? "A lost lease (recovery " + t.recoveries + ")" :
      t.state === "pending" ? "Attempt " + n : n > 1 ? "Attempt " + (n - 1) : "An earlier attempt";
    rows.push([which, "", t.last_error]);
  }
  if (!rows.length && !dl) return "";
  return el("div", { id: "error-history" }, el("h3", {}, "Errors by attempt"),
    el("table", { class: "errors" }, el("tbody", {},
      rows.map(([what, when, e]) => el("tr", { class: "attempt-error" }, el("th", {}, what, when ? el("div", { class: "muted small" }, when) : ""),
        el("td", {}, errBox(e)))),
      dl ? el("tr", { class: "dead-letter-row" }, el("th", {}, "Dead letter", el("div", { class: "muted small" }, fmtTime(dl.moved_at))),
        el("td", {}, el("div", { class: "error" }, el("b", {}, dl.reason || "moved to the dead letters"),
          dl.code ? " · " + dl.code : "", " · ", el("a", { href: "#/dead-letters?execution_id=" + encodeURIComponent(dl.execution_id) }, "open in Dead letters")))) : "")),
    n > 2 && rows.length ? el("p", { class: "muted small" }, "The store keeps the latest error and the one before it; " +
      (n === 3 ? "attempt 1's error is" : "the errors of attempts 1–" + (n - 2) + " are") + " not kept.") : "");
}

function errBox(e) {
  return el("div", { class: "error" }, el("b", {}, (e.code || "error") + " (" + (e.type || "error") + "): "), e.message,
    e.retryable ? el("span", { class: "muted" }, " · retryable") : "",
    e.stack ? el("pre", {}, e.stack) : "");
}

// drawTimeline draws each step as a bar over time: a light segment while
// it was queued (created → started), a coloured one while it ran or waited
// (started → finished, or now for a live step).
function drawTimeline(v, onPick) {
  const entries = (v.progress || []).slice();
  if (!entries.length) return el("p", { class: "muted" }, "No steps recorded yet.");
  const now = Date.now();
  const t = (s) => (s ? new Date(s).getTime() : null);
  let t0 = Math.min(...entries.map((e) => t(e.created_at)), t(v.created_at) || Infinity);
  let t1 = Math.max(...entries.map((e) => t(e.finished_at) || (LIVE.has(v.state) ? now : t(e.started_at) || t(e.created_at))),
    t(v.finished_at) || 0);
  if (t1 <= t0) t1 = t0 + 1;
  const W = 1000, label = 240, right = 70, rowH = 26, top = 24;
  const H = top + entries.length * rowH + 8;
  const x = (ms) => label + ((ms - t0) / (t1 - t0)) * (W - label - right);
  const root = svg("svg", { viewBox: "0 0 " + W + " " + H, id: "timeline", role: "img", "aria-label": "step timeline" });
  // axis ticks
  for (let i = 0; i <= 4; i++) {
    const ms = t0 + ((t1 - t0) * i) / 4;
    root.append(svg("line", { x1: x(ms), x2: x(ms), y1: top - 6, y2: H, stroke: "#e1e4ea" }),
      svg("text", { x: x(ms), y: 12, class: "axis", "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle", text: "+" + fmtDur(ms - t0) }));
  }
  entries.forEach((e, i) => {
    const y = top + i * rowH;
    const created = t(e.created_at), started = t(e.started_at);
    const end = t(e.finished_at) || (["pending", "running", "waiting"].includes(e.state) && LIVE.has(v.state) ? now : started || created);
    const depth = e.parent_task_id ? (e.kind === "orchestrator" ? 0 : 1) : 0;
    const name = (depth ? "  " : "") + (e.position ? "#" + e.position + " " : "") + e.step;
    const g = svg("g", { class: "lane", "data-step": e.step, "data-task": e.task_id, "data-state": e.state },
      svg("rect", { class: "hit", x: 0, y: y, width: W, height: rowH, fill: "transparent" }),
      svg("text", { x: 6 + depth * 14, y: y + 17, text: truncate(name, 30) }));
    if (started && started > created) {
      g.append(svg("rect", { x: x(created), y: y + 7, width: Math.max(1, x(started) - x(created)), height: 12, rx: 2, fill: "#d5dae3" }));
    }
    const s0 = started || created;
    const color = getComputedStyle(document.documentElement).getPropertyValue("--" + e.state).trim() || "#8a94a6";
    g.append(svg("rect", { class: "bar", x: x(s0), y: y + 5, width: Math.max(3, x(end) - x(s0)), height: 16, rx: 3, fill: color },
      svg("title", { text: e.step + " · " + e.state + " · attempt " + e.attempt + (e.error ? " · " + e.error.message : "") })));
    g.append(svg("text", { x: Math.min(W - right + 4, x(end) + 6), y: y + 17, class: "axis", text: started ? fmtDur(end - s0) : e.state }));
    g.addEventListener("click", () => onPick(e, g));
    root.append(g);
  });
  return root;
}

// ---- dead letters ------------------------------------------------------

async function pageDeadLetters(p) {
  const form = el("form", { class: "filters panel", id: "dl-filters" },
    el("label", {}, "Queue", el("input", { name: "queue", value: p.queue || "" })),
    el("label", {}, "Function (step)", el("input", { name: "function", value: p.function || "" })),
    el("label", {}, "Execution id", el("input", { name: "execution_id", class: "wide", value: p.execution_id || "" })),
    el("button", { class: "primary", type: "submit" }, "Filter"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    location.hash = "#/dead-letters" + qs(Object.fromEntries(new FormData(form)));
  });
  const f = { queue: p.queue, function: p.function, execution_id: p.execution_id };
  const page = await api("GET", "v1/dead-letters" + qs({ ...f, limit: 200 }));
  const list = page.dead_letters || [];
  const filtered = Object.values(f).some(Boolean);
  const what = filtered ? "every dead letter matching the filter" : "every dead letter";
  const bulk = el("div", { class: "toolbar" },
    el("button", { class: "primary", type: "button", id: "replay-all", disabled: !list.length, onclick: async () => {
      if (!(await confirmAction("Replay " + what + "?", "Each task is queued again with fresh attempts; its execution resumes.", "Replay all"))) return;
      try {
        const r = await api("POST", "v1/dead-letters/replay-all" + qs(f), {});
        toast("Replayed " + r.replayed + (r.failed ? ", " + r.failed + " failed" : ""), r.failed > 0);
      } catch (e) { toast("Replay failed: " + e.message, true); }
      route();
    } }, "Replay all matching"),
    el("button", { class: "danger", type: "button", id: "discard-shown", disabled: !list.length, onclick: async () => {
      if (!(await confirmAction("Discard the " + list.length + " dead letters shown?", "They are deleted for good; their executions stay failed.", "Discard"))) return;
      let ok = 0, bad = 0;
      for (const d of list) {
        try { await api("DELETE", "v1/dead-letters/" + encodeURIComponent(d.task_id)); ok++; } catch (_) { bad++; }
      }
      toast("Discarded " + ok + (bad ? ", " + bad + " failed" : ""), bad > 0);
      route();
    } }, "Discard shown"),
    el("span", { class: "muted" }, list.length + (list.length === 200 ? "+ (showing the newest 200)" : "") + " dead letter" + (list.length === 1 ? "" : "s")));
  main().replaceChildren(el("h1", {}, "Dead letters"), form, bulk, list.length ? dlTable(list, false) : el("div", { class: "empty table-wrap" }, "No dead letters. Nothing is stuck."));
}

function dlTable(list, compact) {
  return el("div", { class: "table-wrap" }, el("table", { id: "dead-letters" },
    el("thead", {}, el("tr", {}, ["Step", "Execution", "Queue", "Reason", "Error", "Moved", ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, list.map((d) => el("tr", { class: "row", "data-task": d.task_id },
      el("td", {}, d.step_name, el("div", { class: "muted" }, d.kind)),
      el("td", { class: "id nowrap" }, el("a", { href: "#/executions/" + encodeURIComponent(d.execution_id), title: d.execution_id }, compact ? truncate(d.execution_id, 14) : d.execution_id)),
      el("td", {}, d.queue),
      el("td", {}, d.reason),
      el("td", {}, d.error ? el("span", {}, el("b", {}, d.error.code + ": "), truncate(d.error.message || "", 120)) : d.code),
      el("td", { class: "nowrap", title: fmtTime(d.moved_at) }, ago(d.moved_at)),
      el("td", { class: "actions" },
        el("button", { type: "button", class: "primary replay", onclick: async () => {
          if (!(await confirmAction("Replay this dead letter?", "Step " + d.step_name + " of execution " + d.execution_id + " is queued again with fresh attempts.", "Replay"))) return;
          try {
            await api("POST", "v1/dead-letters/" + encodeURIComponent(d.task_id) + "/replay", {});
            toast("Replayed " + d.step_name);
          } catch (e) { toast("Replay failed: " + e.message, true); }
          route();
        } }, "Replay"),
        el("button", { type: "button", class: "discard", onclick: async () => {
          if (!(await confirmAction("Discard this dead letter?", "It is deleted for good; execution " + d.execution_id + " stays failed.", "Discard"))) return;
          try {
            await api("DELETE", "v1/dead-letters/" + encodeURIComponent(d.task_id));
            toast("Discarded");
          } catch (e) { toast("Discard failed: " + e.message, true); }
          route();
        } }, "Discard")))))));
}

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

// ---- workers -----------------------------------------------------------

async function pageWorkers() {
  const data = await api("GET", "v1/workers");
  const list = data.workers || [];
  const live = list.filter((w) => w.state === "live").length;
  main().replaceChildren(el("div", { class: "head" }, el("h1", {}, "Workers"), el("span", { class: "muted" }, live + " live, " + (list.length - live) + " stopped or dead")),
    list.length ? el("div", { class: "table-wrap" }, el("table", { id: "workers" },
      el("thead", {}, el("tr", {}, ["Id", "State", "Host / pid", "Queues", "Functions", "Started", "Heartbeat"].map((h) => el("th", {}, h)))),
      el("tbody", {}, list.map((w) => el("tr", { class: "row", "data-state": w.state },
        el("td", { class: "mono" }, w.id, w.name ? el("div", { class: "muted" }, w.name) : ""),
        el("td", {}, badge(w.state), w.stopped_at ? el("div", { class: "muted" }, ago(w.stopped_at)) : ""),
        el("td", {}, w.host + " / " + w.pid),
        el("td", {}, (w.queues || []).join(", ") || "default"),
        el("td", { class: "muted" }, truncate((w.functions || []).join(", "), 90)),
        el("td", { title: fmtTime(w.started_at) }, ago(w.started_at)),
        el("td", { title: fmtTime(w.heartbeat_at) }, ago(w.heartbeat_at))))))) : el("div", { class: "empty table-wrap" }, "No workers have registered."));
  clearInterval(S.pageTimer);
  S.pageTimer = setInterval(() => { if (location.hash.startsWith("#/workers")) pageWorkers().catch(() => {}); }, 5000);
}

// ---- boot --------------------------------------------------------------

window.addEventListener("hashchange", () => {
  if (location.hash === "#/login") return showLogin();
  route();
});
document.addEventListener("DOMContentLoaded", () => {
  $("#logout").addEventListener("click", logout);
  start();
});
