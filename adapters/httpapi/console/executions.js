// Stent console: the executions list, an execution's detail and its repair (fork, reset). Loaded after app.js (DOM helpers, api(),
// session, router); all console scripts share one global scope, no build step.
"use strict";

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
