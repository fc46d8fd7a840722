// Smart Album page: pick or drop photos, see each one sorted as its result arrives.
//
// Photos are sent in small batches with a few requests in flight, so 500 photos never open
// 500 connections. Every string that comes from a file or the server is inserted with
// textContent, never as HTML.
//
// The results survive a reload: the list is kept in sessionStorage and the dropped files in
// IndexedDB (both cleared by "Clear"), so "Add to library" (POST /api/v1/library/photos:
// copied into the library, never overwriting, then indexed) still works after one. Each
// result has a correction menu; once added, a tile opens in the viewer (data-viewer-photo)
// and a correction is stored in the catalog (PATCH /api/v1/photos/<id>).
"use strict";

(() => {
  const API = "/api/v1";
  const MAX_IN_FLIGHT = 4;        // concurrent requests
  const BATCH_FILES = 4;          // photos per request
  const BATCH_BYTES = 24 << 20;   // and at most this many bytes per request
  // A drop of more than JOB_THRESHOLD photos is queued as background jobs (POST
  // /api/v1/jobs/classify, JOB_FILES photos each) and the jobs are polled, instead of
  // hundreds of synchronous requests.
  const JOB_THRESHOLD = 40;
  const JOB_FILES = 50;
  const JOB_POLL_MS = 700;
  const PALETTE_SIZE = 8;         // .c0 … .c7 in app.css
  const IMAGE_EXT = /\.(jpe?g|png|webp|gif|bmp|tiff?|heic|heif|avif)$/i;
  const ADD_FILES = 8;            // photos per "Add to library" request
  const t = window.t || ((text, p = {}) => text.replace(/\{(\w+)\}/g, (m, k) => (k in p ? String(p[k]) : m)));

  const $ = (id) => document.getElementById(id);
  const els = {
    modelInfo: $("model-info"), limits: $("limits"), drop: $("drop-zone"),
    fileInput: $("file-input"), folderInput: $("folder-input"),
    overview: $("overview"), progressBar: $("progress-bar"), progressText: $("progress-text"),
    filters: $("filters"), live: $("live"), results: $("results"),
    emptyFilter: $("empty-filter"), tileTemplate: $("tile-template"),
    exportCsv: $("export-csv"), exportJson: $("export-json"), clear: $("clear"),
    addLibrary: $("add-library"), addFolder: $("add-folder"), addStatus: $("add-status"),
    resultsTitle: $("results-title"),
  };

  // ---- kept across reloads: the list in sessionStorage, the files in IndexedDB -----------

  const keep = (() => {
    const KEY = "smartalbum-drop-results";
    let opened = null;
    function db() {
      if (!opened) {
        opened = new Promise((resolve, reject) => {
          const req = indexedDB.open("smartalbum-drop", 1);
          req.onupgradeneeded = () => req.result.createObjectStore("files");
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        });
      }
      return opened;
    }
    async function tx(mode, fn) {
      const d = await db();
      return new Promise((resolve, reject) => {
        const txn = d.transaction("files", mode);
        const req = fn(txn.objectStore("files"));
        txn.oncomplete = () => resolve(req ? req.result : undefined);
        txn.onerror = () => reject(txn.error);
      });
    }
    const quiet = (promise) => promise.catch(() => null);
    return {
      load() {
        try { return JSON.parse(sessionStorage.getItem(KEY) || "[]"); } catch { return []; }
      },
      save(items) {
        const list = items.map((i) => ({
          key: i.key, name: i.name, status: i.status === "done" || i.status === "error" ? i.status : "queued",
          result: i.result, error: i.error, photoId: i.photoId || null, path: i.path || null,
          corrected: i.corrected || null,
        }));
        try { sessionStorage.setItem(KEY, JSON.stringify(list)); } catch { /* full: kept in memory */ }
      },
      putFile: (key, file) => quiet(tx("readwrite", (st) => st.put(file, key))),
      getFile: (key) => quiet(tx("readonly", (st) => st.get(key))),
      clear() {
        sessionStorage.removeItem(KEY);
        return quiet(tx("readwrite", (st) => st.clear()));
      },
    };
  })();
  let saveTimer = null;
  const save = () => {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(() => keep.save(state.items), 200);
  };

  const state = {
    model: null,           // GET /api/v1/model
    labels: [],            // labels of the default head, in order
    colour: new Map(),     // label -> palette index
    maxBytes: 64 << 20,
    maxFiles: 100,
    items: [],             // {id, file, name, status, result, error, el}
    queue: [],             // items waiting to be sent
    inFlight: 0,
    filter: "all",
    waitingForKey: false,
    lastAnnounce: 0,
    useJobs: null,         // null: decide on the next drop; false once jobs are unavailable
  };

  // ---- server ---------------------------------------------------------------------------

  const headers = () => window.smartalbumKey.headers();

  async function readProblem(resp) {
    try {
      const body = await resp.json();
      return { title: body.title || resp.statusText, detail: body.detail || "", code: body.code || "" };
    } catch {
      return { title: `HTTP ${resp.status}`, detail: resp.statusText, code: "" };
    }
  }

  async function loadModel() {
    let resp;
    try {
      resp = await fetch(`${API}/model`, { headers: headers() });
    } catch {
      els.modelInfo.textContent = t("The server cannot be reached.");
      return;
    }
    if (resp.status === 401) {
      askForKey();
      return;
    }
    if (!resp.ok) {
      const p = await readProblem(resp);
      els.modelInfo.textContent = t("Model unavailable: {title}", { title: p.title });
      return;
    }
    const model = await resp.json();
    state.model = model;
    const head = model.heads.find((h) => h.name === model.default_head) || model.heads[0];
    state.labels = head.labels;
    head.labels.forEach((label, i) => state.colour.set(label, i % PALETTE_SIZE));
    state.maxBytes = Math.floor(model.limits.max_upload_mb * 1024 * 1024);
    state.maxFiles = model.limits.max_files;
    els.modelInfo.textContent = t("{name} · {count} categories · model {version}",
      { name: model.name, count: head.labels.length, version: model.version.slice(0, 8) });
    els.limits.textContent =
      t("JPEG, PNG, HEIC, WebP, TIFF… up to {size} per photo.", { size: formatMb(state.maxBytes) });
    renderFilters();
    state.items.forEach((item) => { if (item.status === "done") finish(item, item.result); });
    pump();
  }

  // Shows the key form (key.js); once a key is entered, goes on where it stopped.
  function askForKey() {
    els.modelInfo.textContent = t("Waiting for an API key.");
    if (state.waitingForKey) return;
    state.waitingForKey = true;
    window.smartalbumKey.ask().then(() => {
      state.waitingForKey = false;
      if (state.model) pump(); else loadModel();
    });
  }

  // ---- adding photos --------------------------------------------------------------------

  let keySeq = 0;
  const newKey = () => `${Date.now().toString(36)}-${(keySeq += 1)}`;

  function addFiles(entries) {
    // entries: [{file, name}]
    if (!entries.length) return;
    const first = !state.items.length;
    showResults();
    const fragment = document.createDocumentFragment();
    for (const { file, name } of entries) {
      const item = { id: state.items.length, key: newKey(), file, name, status: "queued", result: null, error: null };
      item.el = makeTile(item);
      state.items.push(item);
      fragment.appendChild(item.el);
      keep.putFile(item.key, file);
      if (file.size > state.maxBytes) {
        finishWithError(item, { title: t("Too large"), detail: t("Over the {size} upload limit.", { size: formatMb(state.maxBytes) }), code: "too_large" });
      } else {
        state.queue.push(item);
      }
    }
    els.results.appendChild(fragment);
    applyFilter();
    update();
    save();
    pump();
    if (first) bringResultsIntoView();
  }

  // After a drop the drop zone shrinks and the results come into view.
  function showResults() {
    els.overview.hidden = false;
    els.drop.classList.add("compact");
  }

  function bringResultsIntoView() {
    els.overview.scrollIntoView({ block: "start", behavior: "smooth" });
    els.overview.setAttribute("tabindex", "-1");
    els.overview.focus({ preventScroll: true });
  }

  // The results kept before a reload come back (files from IndexedDB where still there).
  async function restore() {
    const saved = keep.load();
    if (!saved.length) {
      keep.clear();
      return;
    }
    showResults();
    for (const entry of saved) {
      const file = await keep.getFile(entry.key);
      const item = { id: state.items.length, key: entry.key, file: file || null, name: entry.name,
        status: entry.status, result: entry.result, error: entry.error, photoId: entry.photoId,
        path: entry.path, corrected: entry.corrected };
      item.el = makeTile(item);
      state.items.push(item);
      els.results.appendChild(item.el);
      if (item.status === "done" && item.result) finish(item, item.result);
      else if (item.status === "error" && item.error) finishWithError(item, item.error);
      else if (file) state.queue.push(item);
      else finishWithError(item, { title: t("Not sorted"), detail: t("Drop this photo again."), code: "lost" });
      if (item.photoId) markAdded(item);
    }
    applyFilter();
    update();
    pump();
  }

  function makeTile(item) {
    const li = els.tileTemplate.content.firstElementChild.cloneNode(true);
    li.dataset.state = "pending";
    li.querySelector(".filename").textContent = item.name;
    li.querySelector(".filename").title = item.name;
    const img = li.querySelector("img");
    const noThumb = li.querySelector(".no-thumb");
    const ext = (item.name.match(/\.([^./]+)$/) || [, "?"])[1];
    noThumb.textContent = ext.toUpperCase().slice(0, 5);
    img.addEventListener("error", () => li.classList.add("thumb-failed"), { once: true });
    if (item.file) {
      item.url = URL.createObjectURL(item.file);
      img.src = item.url;
    } else if (item.photoId) {
      img.src = `${API}/photos/${item.photoId}/thumbnail`;
    } else {
      li.classList.add("thumb-failed");
    }
    li.querySelector(".fix-menu").hidden = true;
    return li;
  }

  els.fileInput.addEventListener("change", () => {
    addFiles([...els.fileInput.files].map((file) => ({ file, name: file.name })));
    els.fileInput.value = "";
  });

  els.folderInput.addEventListener("change", () => {
    addFiles([...els.folderInput.files]
      .filter(isPhotoName)
      .map((file) => ({ file, name: file.webkitRelativePath || file.name })));
    els.folderInput.value = "";
  });

  function isPhotoName(file) {
    const base = (file.name || "").split("/").pop();
    return !base.startsWith(".") && (IMAGE_EXT.test(base) || (file.type || "").startsWith("image/"));
  }

  // Folders dropped on the page are walked with the (widely supported) entries API.
  function readEntries(reader) {
    return new Promise((resolve, reject) => reader.readEntries(resolve, reject));
  }

  async function walk(entry, out) {
    if (entry.isFile) {
      const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
      if (isPhotoName(file)) out.push({ file, name: entry.fullPath.replace(/^\//, "") });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (let batch = await readEntries(reader); batch.length; batch = await readEntries(reader)) {
        for (const child of batch) await walk(child, out);
      }
    }
  }

  async function onDrop(ev) {
    ev.preventDefault();
    els.drop.classList.remove("dragging");
    const dt = ev.dataTransfer;
    if (!dt) return;
    // DataTransfer items are only valid during the event: capture everything now.
    const direct = [];
    const folders = [];
    const items = dt.items ? [...dt.items] : [];
    for (const it of items) {
      if (it.kind !== "file") continue;
      const entry = it.webkitGetAsEntry ? it.webkitGetAsEntry() : null;
      if (entry && entry.isDirectory) folders.push(entry);
      else {
        const file = it.getAsFile();
        if (file) direct.push({ file, name: file.name });
      }
    }
    if (!items.length) for (const file of dt.files) direct.push({ file, name: file.name });
    addFiles(direct);
    for (const folder of folders) {
      const found = [];
      try { await walk(folder, found); } catch { /* unreadable folder: skip it */ }
      addFiles(found);
    }
  }

  for (const type of ["dragenter", "dragover"]) {
    document.addEventListener(type, (ev) => {
      if (!ev.dataTransfer || ![...ev.dataTransfer.types].includes("Files")) return;
      ev.preventDefault();
      ev.dataTransfer.dropEffect = "copy";
      els.drop.classList.add("dragging");
    });
  }
  document.addEventListener("dragleave", (ev) => {
    if (ev.relatedTarget === null) els.drop.classList.remove("dragging");
  });
  document.addEventListener("drop", onDrop);

  // ---- sending --------------------------------------------------------------------------

  function nextBatch() {
    const batch = [];
    let bytes = 0;
    const maxFiles = Math.min(state.jobMode ? JOB_FILES : BATCH_FILES, state.maxFiles);
    const maxBytes = Math.min(BATCH_BYTES, state.maxBytes);
    while (state.queue.length && batch.length < maxFiles) {
      const size = state.queue[0].file.size;
      if (batch.length && (bytes + size > maxBytes || state.queue[0].alone)) break;
      if (state.queue[0].alone) return [state.queue.shift()];
      batch.push(state.queue.shift());
      bytes += size;
    }
    return batch;
  }

  function pump() {
    if (!state.model || state.waitingForKey) return;
    if (!state.inFlight) state.jobMode = state.useJobs !== false && state.queue.length > JOB_THRESHOLD;
    const limit = state.jobMode ? 2 : MAX_IN_FLIGHT;
    while (state.inFlight < limit && state.queue.length) {
      const batch = nextBatch();
      state.inFlight += 1;
      (state.jobMode ? sendAsJob(batch) : send(batch)).finally(() => {
        state.inFlight -= 1;
        pump();
      });
    }
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // Posts a batch's files; null (the batch failed) when the server cannot be reached.
  async function postBatch(batch, path) {
    const form = new FormData();
    for (const item of batch) {
      item.status = "sending";
      form.append("file", item.file, item.name);
    }
    try {
      return await fetch(`${API}${path}`, { method: "POST", body: form, headers: headers() });
    } catch {
      batch.forEach((item) => finishWithError(item, { title: t("Network error"), detail: t("The server could not be reached."), code: "network" }));
      return null;
    }
  }

  // Put a batch back in front of the queue, unless "Clear" removed it meanwhile.
  const requeue = (batch) => state.queue.unshift(...batch.filter((item) => state.items.includes(item)));

  // A batch the server refused: wait out the rate limit, ask for the key, send photos too
  // big together one per request, or show the problem on each photo.
  async function refused(batch, resp) {
    const problem = await readProblem(resp);
    if (resp.status === 429) {
      const wait = Number(resp.headers.get("Retry-After")) || 2;
      await sleep(Math.min(wait, 60) * 1000);
      requeue(batch);
    } else if (resp.status === 401) {
      requeue(batch);
      askForKey();
    } else if (resp.status === 413 && batch.length > 1) {
      batch.forEach((item) => { item.alone = true; });
      requeue(batch);
    } else {
      batch.forEach((item) => finishWithError(item, problem));
    }
  }

  async function send(batch) {
    const resp = await postBatch(batch, "/classify");
    if (!resp) return;
    if (resp.ok) {
      const body = await resp.json();
      body.results.forEach((result, i) => finish(batch[i], result));
      return;
    }
    await refused(batch, resp);
  }

  // A batch as a background job: upload, then poll the job until it ends.
  async function sendAsJob(batch) {
    const resp = await postBatch(batch, "/jobs/classify");
    if (!resp) return;
    if (resp.status === 404 || resp.status === 503) {
      state.useJobs = false;  // no catalog / no jobs here: classify directly
      state.jobMode = false;
      requeue(batch);
      return;
    }
    if (resp.status !== 202) {
      await refused(batch, resp);
      return;
    }
    const location = resp.headers.get("Location");
    batch.forEach((item) => { item.status = "queued"; });
    for (;;) {
      await sleep(JOB_POLL_MS);
      let job;
      try {
        const r = await fetch(location, { headers: headers() });
        if (!r.ok) continue;
        job = await r.json();
      } catch {
        continue;
      }
      if (job.status === "done") {
        const results = (job.result && job.result.results) || [];
        batch.forEach((item, i) => {
          if (!state.items.includes(item)) return;
          if (results[i]) finish(item, results[i]);
          else finishWithError(item, { title: t("No result"), detail: t("The job returned no result for this photo."), code: "no_result" });
        });
        return;
      }
      if (job.status === "failed" || job.status === "cancelled") {
        batch.forEach((item) => finishWithError(item, { title: t("Job {status}", { status: job.status }), detail: job.message || "", code: `job_${job.status}` }));
        return;
      }
    }
  }

  // ---- results --------------------------------------------------------------------------

  function finish(item, result) {
    if (result.error) {
      finishWithError(item, result.error);
      return;
    }
    item.status = "done";
    item.result = result;
    const li = item.el;
    const label = labelOf(item);
    for (const c of [...li.classList]) if (/^c\d$/.test(c)) li.classList.remove(c);
    const colour = state.colour.get(label) ?? 0;
    li.classList.remove("pending");
    li.classList.add("done", `c${colour}`);
    const uncertain = result.uncertain && !item.corrected;
    li.classList.toggle("uncertain", uncertain);
    li.dataset.state = uncertain ? "uncertain" : "done";
    li.dataset.label = label;
    li.querySelector(".label").textContent = window.smartalbumI18n.label(label);
    li.querySelector(".badge").hidden = !uncertain;
    const pct = Math.round(result.confidence * 100);
    const conf = li.querySelector(".confidence");
    conf.hidden = Boolean(item.corrected);
    conf.querySelector(".fill").style.width = `${pct}%`;
    conf.querySelector(".percent").textContent = `${pct}%`;
    li.querySelector(".corrected").hidden = !item.corrected;
    li.title = item.corrected
      ? t("{name}: {label} (your correction)", { name: item.name, label })
      : (result.uncertain
        ? t("{name}: {label}, {confidence} confident (uncertain)", { name: item.name, label, confidence: `${pct}%` })
        : t("{name}: {label}, {confidence} confident", { name: item.name, label, confidence: `${pct}%` }));
    fixMenu(item);
    applyFilterTo(item);
    update();
    save();
  }

  const labelOf = (item) => item.corrected || (item.result && item.result.label);

  // ---- corrections: one menu per result -------------------------------------------------

  function fixMenu(item) {
    const menu = item.el.querySelector(".fix-menu");
    if (!state.labels.length) return;
    menu.hidden = false;
    const list = menu.querySelector(".fix-options");
    if (list.childElementCount !== state.labels.length) {
      list.replaceChildren();
      for (const label of state.labels) {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "fix-option";
        b.setAttribute("role", "menuitemradio");
        b.dataset.label = label;
        b.textContent = window.smartalbumI18n.label(label);
        b.addEventListener("click", () => {
          menu.open = false;
          correct(item, label);
        });
        list.appendChild(b);
      }
    }
    for (const b of list.querySelectorAll(".fix-option")) {
      b.setAttribute("aria-checked", String(b.dataset.label === labelOf(item)));
    }
    menu.querySelector("summary").setAttribute("aria-label", t("Correct the label of {name}", { name: item.name }));
  }

  async function correct(item, label) {
    const before = item.corrected;
    item.corrected = label === item.result.label && !item.photoId ? null : label;
    finish(item, item.result);
    if (!item.photoId) {
      els.live.textContent = t("{name}: {label}. Add to library to keep the correction.", { name: item.name, label });
      return;
    }
    try {
      const resp = await fetch(`${API}/photos/${item.photoId}`, {
        method: "PATCH",
        headers: { ...headers(), "Content-Type": "application/json" },
        body: JSON.stringify({ label }),
      });
      if (!resp.ok) throw new Error((await readProblem(resp)).detail || resp.statusText);
      els.live.textContent = t("{name}: corrected to {label}.", { name: item.name, label });
    } catch (err) {
      item.corrected = before;
      finish(item, item.result);
      els.live.textContent = t("Could not save the correction: {why}", { why: err.message });
    }
  }

  // ---- add to library -------------------------------------------------------------------

  function markAdded(item) {
    const link = item.el.querySelector(".thumb");
    link.dataset.viewerPhoto = String(item.photoId);
    link.setAttribute("role", "link");
    link.setAttribute("tabindex", "0");
    link.setAttribute("aria-label", t("Open {name}", { name: item.name }));
    item.el.classList.add("added");
    item.el.querySelector(".added-mark").hidden = false;
  }

  async function addToLibrary() {
    const todo = state.items.filter((i) => !i.photoId && i.status === "done" && i.file);
    const lost = state.items.filter((i) => !i.photoId && i.status === "done" && !i.file).length;
    if (!todo.length) {
      els.addStatus.textContent = lost
        ? t("{count} photos can no longer be read by the page: drop them again to add them.", { count: lost })
        : t("Every sorted photo is already in the library.");
      return;
    }
    els.addLibrary.disabled = true;
    const folder = els.addFolder.value.trim();
    let added = 0;
    let already = 0;
    let where = "";
    try {
      for (let start = 0; start < todo.length; start += ADD_FILES) {
        const batch = todo.slice(start, start + ADD_FILES);
        const form = new FormData();
        for (const item of batch) form.append("file", item.file, item.name);
        if (folder) form.append("folder", folder);
        els.addStatus.textContent = t("Adding {done} of {total}…", { done: start, total: todo.length });
        const resp = await fetch(`${API}/library/photos`, { method: "POST", body: form, headers: headers() });
        if (resp.status === 401) { await window.smartalbumKey.ask(); start -= ADD_FILES; continue; }
        if (!resp.ok) {
          const p = await readProblem(resp);
          throw new Error(p.detail || p.title);
        }
        const body = await resp.json();
        where = body.folder;
        added += body.added;
        already += body.already;
        body.photos.forEach((p, i) => {
          const item = batch[i];
          if (!p.photo_id) return;
          item.photoId = p.photo_id;
          item.path = p.path;
          markAdded(item);
        });
        for (const item of batch) {
          if (item.photoId && item.corrected) await correct(item, item.corrected);
        }
        save();
      }
      els.addStatus.textContent = t("{added} added to {folder} ({already} were already there). Click a photo to open it.",
        { added, already, folder: where });
    } catch (err) {
      els.addStatus.textContent = t("Could not add the photos: {why}", { why: err.message });
    } finally {
      els.addLibrary.disabled = false;
    }
  }

  els.addLibrary.addEventListener("click", addToLibrary);
  // Without the viewer on the page, an added photo opens on its own page instead.
  els.results.addEventListener("click", (ev) => {
    const link = ev.target.closest && ev.target.closest("[data-viewer-photo]");
    if (!link) return;
    setTimeout(() => {
      if (!ev.defaultPrevented) window.location.href = `/gallery/photos/${link.dataset.viewerPhoto}`;
    }, 0);
  });
  // Enter or Space on an added tile opens the viewer (it listens for clicks).
  els.results.addEventListener("keydown", (ev) => {
    const link = ev.target.closest && ev.target.closest("[data-viewer-photo]");
    if (link && (ev.key === "Enter" || ev.key === " ")) {
      ev.preventDefault();
      link.click();
    }
  });

  function finishWithError(item, error) {
    item.status = "error";
    item.error = { code: error.code || "", title: error.title || t("Error"), detail: error.detail || "" };
    const li = item.el;
    li.classList.remove("pending");
    li.classList.add("error");
    li.dataset.state = "error";
    li.querySelector(".label").textContent = item.error.title;
    const detail = li.querySelector(".error-detail");
    detail.textContent = item.error.detail;
    detail.hidden = !item.error.detail;
    applyFilterTo(item);
    update();
    save();
  }

  // ---- summary, filter, progress --------------------------------------------------------

  function counts() {
    const c = { all: state.items.length, uncertain: 0, error: 0, done: 0 };
    for (const label of state.labels) c[`label:${label}`] = 0;
    for (const item of state.items) {
      if (item.status === "error") c.error += 1;
      if (item.status === "done") {
        c.done += 1;
        const label = labelOf(item);
        c[`label:${label}`] = (c[`label:${label}`] || 0) + 1;
        if (item.result.uncertain && !item.corrected) c.uncertain += 1;
      }
    }
    return c;
  }

  function renderFilters() {
    els.filters.replaceChildren();
    const add = (key, text, colour) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "chip";
      b.dataset.filter = key;
      if (colour !== undefined) {
        b.classList.add(`c${colour}`);
        const sw = document.createElement("span");
        sw.className = "swatch";
        sw.setAttribute("aria-hidden", "true");
        b.appendChild(sw);
      }
      const name = document.createElement("span");
      name.className = "chip-name";
      name.textContent = text;
      const count = document.createElement("span");
      count.className = "count";
      count.textContent = "0";
      b.append(name, count);
      b.setAttribute("aria-pressed", String(state.filter === key));
      b.addEventListener("click", () => {
        state.filter = state.filter === key && key !== "all" ? "all" : key;
        applyFilter();
      });
      els.filters.appendChild(b);
    };
    add("all", t("All"));
    state.labels.forEach((label) => add(`label:${label}`, label, state.colour.get(label)));
    add("uncertain", t("Uncertain"));
    add("error", t("Errors"));
    update();
  }

  function matches(item) {
    const f = state.filter;
    if (f === "all") return true;
    if (f === "error") return item.status === "error";
    if (f === "uncertain") return item.status === "done" && item.result.uncertain && !item.corrected;
    return item.status === "done" && `label:${labelOf(item)}` === f;
  }

  function applyFilterTo(item) {
    item.el.hidden = !matches(item);
  }

  function applyFilter() {
    for (const b of els.filters.querySelectorAll(".chip")) {
      b.setAttribute("aria-pressed", String(b.dataset.filter === state.filter));
    }
    state.items.forEach(applyFilterTo);
    els.emptyFilter.hidden = state.items.some(matches) || !state.items.length;
  }

  function update() {
    const c = counts();
    for (const b of els.filters.querySelectorAll(".chip")) {
      b.querySelector(".count").textContent = String(c[b.dataset.filter] || 0);
    }
    const finished = c.done + c.error;
    const total = c.all;
    els.progressBar.style.width = total ? `${(100 * finished) / total}%` : "0%";
    let text = "";
    if (total) {
      text = t("{finished} of {total} photos sorted", { finished, total })
        + (c.error ? t(" · {count} could not be read", { count: c.error }) : "")
        + (finished === total ? t(" — done.") : "…");
    }
    els.addLibrary.disabled = !c.done;
    els.progressText.textContent = text;
    els.emptyFilter.hidden = state.items.some(matches) || !state.items.length;
    // Screen readers hear progress at most every few seconds, and always the end.
    const now = Date.now();
    if (finished === total || now - state.lastAnnounce > 3000) {
      state.lastAnnounce = now;
      els.live.textContent = text;
    }
  }

  // ---- export ---------------------------------------------------------------------------

  function rows() {
    return state.items.map((item) => ({
      filename: item.name,
      label: item.result ? labelOf(item) : null,
      corrected: Boolean(item.corrected),
      photo_id: item.photoId || null,
      confidence: item.result ? item.result.confidence : null,
      uncertain: item.result ? item.result.uncertain : null,
      probabilities: item.result ? item.result.probabilities : null,
      sha256: item.result ? item.result.sha256 : null,
      error: item.error,
    }));
  }

  function csvCell(value) {
    let s = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;  // keep spreadsheets from running formulas
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  }

  function toCsv() {
    const head = ["filename", "label", "confidence", "uncertain", ...state.labels.map((l) => `p_${l}`),
      "error_code", "error", "sha256"];
    const lines = [head.map(csvCell).join(",")];
    for (const r of rows()) {
      lines.push([
        r.filename, r.label, r.confidence, r.uncertain,
        ...state.labels.map((l) => (r.probabilities ? r.probabilities[l] : "")),
        r.error ? r.error.code : "", r.error ? r.error.detail || r.error.title : "", r.sha256,
      ].map(csvCell).join(","));
    }
    return lines.join("\r\n") + "\r\n";
  }

  function download(text, type, name) {
    const url = URL.createObjectURL(new Blob([text], { type }));
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  const stamp = () => new Date().toISOString().slice(0, 19).replace(/[:T]/g, "-");

  els.exportCsv.addEventListener("click", () => download(toCsv(), "text/csv", `smart-album-${stamp()}.csv`));
  els.exportJson.addEventListener("click", () => download(
    JSON.stringify({ model: state.model && { name: state.model.name, version: state.model.version, head: state.model.default_head },
      exported: new Date().toISOString(), results: rows() }, null, 2),
    "application/json", `smart-album-${stamp()}.json`));

  els.clear.addEventListener("click", () => {
    state.queue.length = 0;
    for (const item of state.items) URL.revokeObjectURL(item.url);
    state.items = [];
    els.results.replaceChildren();
    state.filter = "all";
    applyFilter();
    update();
    keep.clear();
    els.addStatus.textContent = "";
    els.overview.hidden = true;
    els.drop.classList.remove("compact");
  });

  function formatMb(bytes) {
    return `${Math.round(bytes / (1024 * 1024))} MB`;
  }

  restore().finally(loadModel);
})();
