// Stent console: the dead letters page. Loaded after app.js (DOM helpers, api(),
// session, router); all console scripts share one global scope, no build step.
"use strict";

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
