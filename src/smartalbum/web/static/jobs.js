// The jobs page: start an index of a server folder, and poll every job's progress.
// Everything comes from the JSON API (/api/v1/jobs), like any other client.
"use strict";

const POLL_MS = 1000;
// The API key, when the server needs one: the one entered on the Classify or Gallery page
// (kept for this browser tab).
const keyHeaders = () => window.smartalbumKey.headers();
const NEEDS_KEY = "This server needs an API key: enter it on the Classify page, then come back.";
const list = document.getElementById("jobs");
const empty = document.getElementById("jobs-empty");
const form = document.getElementById("start-form");
const status = document.getElementById("start-status");

function fmtSeconds(s) {
  if (s === null || s === undefined) return "–";
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

// What a job works on, in words (an upload's spool paths mean nothing to a person).
function describe(job) {
  const p = job.params || {};
  if (job.kind === "index") return `index ${(p.paths || []).join(", ")}`;
  if (job.kind === "classify") return `classify ${(p.names || p.paths || []).length} photos`;
  if (job.kind === "organize") return `organise into ${p.into} (${p.mode || "copy"})`;
  if (job.kind === "rehead") return `re-sort the catalog${p.head ? ` with ${p.head}` : ""}`;
  if (job.kind === "faces") return `find faces${(p.paths || []).length ? ` in ${p.paths.join(", ")}` : " in new photos"}`;
  if (job.kind === "faces_recluster") return "re-group faces into people";
  return job.kind;
}

function render(job) {
  let li = document.getElementById(`job-${job.id}`);
  if (!li) {
    li = document.createElement("li");
    li.id = `job-${job.id}`;
    li.className = "job";
    li.innerHTML = `<div class="job-head"><span class="job-paths"></span>
      <span class="job-status"></span><button type="button" class="job-cancel">Cancel</button></div>
      <progress max="1" value="0"></progress>
      <p class="job-stats"></p><p class="job-errors" hidden></p>`;
    li.querySelector(".job-cancel").addEventListener("click", () => cancel(job.id));
  }
  li.querySelector(".job-paths").textContent = describe(job);
  li.querySelector(".job-status").textContent = job.status;
  const bar = li.querySelector("progress");
  bar.max = job.total || 1;
  bar.value = job.total === null ? 0 : job.done;
  bar.setAttribute("aria-label", `${job.done} of ${job.total ?? "?"} photos`);
  const rate = job.rate ? `${job.rate.toFixed(1)} photos/s` : "–";
  li.querySelector(".job-stats").textContent =
    `${job.done} / ${job.total ?? "?"} photos · ${rate} · ETA ${fmtSeconds(job.eta_s)}`;
  const errors = li.querySelector(".job-errors");
  errors.hidden = !job.errors;
  const failed = job.kind === "index" ? "could not be indexed (see smartalbum errors)" : "failed";
  errors.textContent = job.errors ? `${job.errors} ${failed}` : "";
  li.querySelector(".job-cancel").hidden = !["queued", "running"].includes(job.status);
  return li;
}

async function refresh() {
  try {
    const response = await fetch("/api/v1/jobs?limit=50", { headers: keyHeaders() });
    if (response.status === 401) status.textContent = NEEDS_KEY;
    if (!response.ok) return;
    const { jobs } = await response.json();
    empty.hidden = jobs.length > 0;
    jobs.forEach((job, i) => {
      const li = render(job);
      if (list.children[i] !== li) list.insertBefore(li, list.children[i] || null);
    });
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
  status.textContent = "Starting…";
  const response = await fetch("/api/v1/jobs", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...keyHeaders() },
    body: JSON.stringify({ kind: "index", paths: [folder] }),
  });
  const body = await response.json();
  if (response.status === 401) status.textContent = NEEDS_KEY;
  else status.textContent = response.ok ? `Job started (${body.id.slice(0, 8)}).` : body.detail;
});

refresh();
