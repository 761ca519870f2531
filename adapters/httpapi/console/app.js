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

// ---- boot --------------------------------------------------------------

window.addEventListener("hashchange", () => {
  if (location.hash === "#/login") return showLogin();
  route();
});
document.addEventListener("DOMContentLoaded", () => {
  $("#logout").addEventListener("click", logout);
  start();
});
