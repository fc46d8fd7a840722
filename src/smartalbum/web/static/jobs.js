// The jobs page: start an index of a server folder, and poll every job's progress.
// Everything comes from the JSON API (/api/v1/jobs), like any other client.
//
// Rows keep their place: the list is newest first (created_at, then id) and a row, once
// shown, is never moved; a new job is inserted where it belongs. Bars advance smoothly:
// between two polls the shown value slides to the polled one (never backwards). A stalled
// job (no progress for the server's jobs.stall_after_s) says so and shows no ETA.
"use strict";

const POLL_MS = 1000;
const { t } = window;
const i18n = window.smartalbumI18n;
// The API key, when the server needs one: the one entered on the Classify or Gallery page
// (kept for this browser tab).
const keyHeaders = () => window.smartalbumKey.headers();
const NEEDS_KEY = t("This server needs an API key: enter it on the Classify page, then come back.");
const STATUS = {
  queued: t("queued"),
  running: t("running"),
  done: t("done"),
  failed: t("failed"),
  cancelled: t("cancelled"),
  stalled: t("stalled"),
};
const PHOTO_KINDS = new Set(["index", "classify", "faces"]);
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

const list = document.getElementById("jobs");
const empty = document.getElementById("jobs-empty");
const form = document.getElementById("start-form");
const status = document.getElementById("start-status");
const bars = new Map(); // job id -> {from, to, start, shown, max, el}

function fmtSeconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return t("{n} s", { n: i18n.number(Math.round(s)) });
  if (s < 5400) return t("{n} min", { n: i18n.number(Math.round(s / 60)) });
  return t("{n} h", { n: i18n.number(s / 3600, { maximumFractionDigits: 1 }) });
}

// An API time ("2026-12-03T12:00:00.123456Z") in the page's language.
function fmtTime(iso) {
  if (!iso) return "";
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return iso;
  return i18n.date(when, { dateStyle: "medium", timeStyle: "medium" });
}

// What a job works on, in words (an upload's spool paths mean nothing to a person).
function describe(job) {
  const p = job.params || {};
  const paths = (p.paths || []).join(", ");
  if (job.kind === "index") return t("index {paths}", { paths });
  if (job.kind === "classify") return t("classify {n} photos", { n: (p.names || p.paths || []).length });
  if (job.kind === "organize") return t("organise into {into} ({mode})", { into: p.into, mode: p.mode || "copy" });
  if (job.kind === "rehead") return p.head ? t("re-sort the catalog with {head}", { head: p.head }) : t("re-sort the catalog");
  if (job.kind === "faces") return paths ? t("find faces in {paths}", { paths }) : t("find faces in new photos");
  if (job.kind === "faces_recluster") return t("re-group faces into people");
  if (job.kind === "tags") return t("tag the catalog");
  if (job.kind === "categories") return t("categories: {action}", { action: p.action || "retrain" });
  return job.kind;
}

// Newest first: created_at, then id (the API's order), so equal times never swap.
function before(a, b) {
  if (a.created_at !== b.created_at) return (a.created_at || "") > (b.created_at || "");
  return a.id < b.id;
}

function row(job) {
  let li = document.getElementById(`job-${job.id}`);
  if (li) return li;
  li = document.createElement("li");
  li.id = `job-${job.id}`;
  li.className = "job";
  li.dataset.created = job.created_at || "";
  li.innerHTML = `<div class="job-head"><span class="job-paths"></span>
    <span class="job-status"></span><button type="button" class="job-cancel"></button></div>
    <progress max="1" value="0"></progress>
    <p class="job-stats"></p><p class="job-times"></p><p class="job-errors" hidden></p>`;
  const cancelButton = li.querySelector(".job-cancel");
  cancelButton.textContent = t("Cancel");
  cancelButton.addEventListener("click", () => cancel(job.id));
  // Insert before the first shown row that is older; never move a row already shown.
  const next = [...list.children].find((other) => before(job, { created_at: other.dataset.created, id: other.id.slice(4) }));
  list.insertBefore(li, next || null);
  return li;
}

function timesText(job) {
  const parts = [];
  if (job.started_at) parts.push(t("Started {time}", { time: fmtTime(job.started_at) }));
  else parts.push(t("Queued {time}", { time: fmtTime(job.created_at) }));
  if (job.finished_at) {
    parts.push(t("Ended {time}", { time: fmtTime(job.finished_at) }));
    if (job.started_at) {
      const took = (new Date(job.finished_at) - new Date(job.started_at)) / 1000;
      parts.push(t("took {duration}", { duration: fmtSeconds(took) }));
    }
  }
  return parts.join(" · ");
}

function statsText(job) {
  const total = job.total === null ? "?" : i18n.number(job.total);
  const done = i18n.number(job.done);
  const counts = PHOTO_KINDS.has(job.kind)
    ? t("{done} / {total} photos", { done, total })
    : t("{done} / {total} items", { done, total });
  const rate = job.rate ? t("{rate}/s", { rate: i18n.number(job.rate, { maximumFractionDigits: 1 }) }) : "–";
  if (job.stalled) {
    return `${counts} · ${t("stalled: no progress for {idle}, no ETA", { idle: fmtSeconds(job.idle_s) })}`;
  }
  return `${counts} · ${rate} · ${t("ETA {eta}", { eta: fmtSeconds(job.eta_s) })}`;
}

function render(job) {
  const li = row(job);
  const shownStatus = job.stalled ? "stalled" : job.status;
  li.dataset.status = shownStatus;
  li.classList.toggle("stalled", Boolean(job.stalled));
  li.querySelector(".job-paths").textContent = describe(job);
  li.querySelector(".job-status").textContent = STATUS[shownStatus] || shownStatus;
  const max = job.total || 1;
  const target = job.total === null ? 0 : Math.min(job.done, max);
  slide(job.id, li.querySelector("progress"), target, max);
  li.querySelector("progress").setAttribute(
    "aria-label",
    t("{done} of {total}", { done: job.done, total: job.total ?? "?" }),
  );
  li.dataset.done = String(job.done);
  li.querySelector(".job-stats").textContent = statsText(job);
  li.querySelector(".job-times").textContent = timesText(job);
  const errors = li.querySelector(".job-errors");
  errors.hidden = !job.errors;
  errors.textContent = !job.errors
    ? ""
    : job.kind === "index"
      ? t("{n} could not be indexed (see smartalbum errors)", { n: job.errors })
      : t("{n} failed", { n: job.errors });
  li.querySelector(".job-cancel").hidden = !["queued", "running"].includes(job.status);
}

// The bar slides from what it shows now to the polled value over one poll interval.
function slide(id, el, target, max) {
  const bar = bars.get(id) || { shown: 0, to: 0, from: 0, start: 0, el, max };
  bar.el = el;
  bar.max = max;
  el.max = max;
  const to = Math.max(bar.shown, target); // never backwards
  if (to !== bar.to) { // a new value: slide from where the bar is now
    bar.from = bar.shown;
    bar.to = to;
    bar.start = performance.now();
  }
  if (reducedMotion) bar.shown = bar.to;
  bars.set(id, bar);
  el.value = bar.shown;
}

function animate(now) {
  for (const bar of bars.values()) {
    if (bar.shown >= bar.to) continue;
    const k = Math.min(1, (now - bar.start) / POLL_MS);
    bar.shown = k >= 1 ? bar.to : bar.from + (bar.to - bar.from) * k;
    bar.el.value = bar.shown;
  }
  requestAnimationFrame(animate);
}

async function refresh() {
  try {
    const response = await fetch("/api/v1/jobs?limit=50", { headers: keyHeaders() });
    if (response.status === 401) status.textContent = NEEDS_KEY;
    if (!response.ok) return;
    const { jobs } = await response.json();
    empty.hidden = jobs.length > 0 || list.children.length > 0;
    jobs.forEach(render);
  } finally {
    setTimeout(refresh, POLL_MS);
  }
}

async function cancel(id) {
  await fetch(`/api/v1/jobs/${id}`, { method: "DELETE", headers: keyHeaders() });
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const folder = document.getElementById("folder").value.trim();
  status.textContent = t("Starting…");
  const response = await fetch("/api/v1/jobs", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...keyHeaders() },
    body: JSON.stringify({ kind: "index", paths: [folder] }),
  });
  const body = await response.json();
  if (response.status === 401) status.textContent = NEEDS_KEY;
  else status.textContent = response.ok ? t("Job started ({id}).", { id: body.id.slice(0, 8) }) : body.detail;
});

requestAnimationFrame(animate);
refresh();
