// Stent console: the workers page. Loaded after app.js (DOM helpers, api(),
// session, router); all console scripts share one global scope, no build step.
"use strict";

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
