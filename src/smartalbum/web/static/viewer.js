// Smart Album's photo viewer: one full-screen <dialog> for every page (the layout loads this
// script once). It knows no grid: any element with data-viewer-photo="ID" inside a container
// with data-viewer-grid opens it on click or Enter, and ←/→ walk that container's items in DOM
// order (asked again at each step, so tiles loaded later by infinite scroll count too); a grid
// with data-viewer-category="NAME" shows that category's heat-map. Scripts can also call
// window.smartalbumViewer.open(ids, index). A correction is announced to the page as the
// document event "smartalbum:photo-changed" ({item: the photo as the API answers it now}),
// the one event every grid listens to, so a grid can update its tile.
//
// The picture is the API's display-size preview (upright, JPEG even for HEIC). It sits in a
// "stage" sized to the fitted picture; zoom and pan transform the stage, and the overlays
// (face boxes in an SVG whose viewBox is the picture's own pixel size, the heat-map on a
// canvas placed by percentages) are children of the stage, so they stay on their place at any
// window size and zoom. Nothing from the server is inserted as HTML.
(() => {
  "use strict";
  const API = "/api/v1";
  const SVG = "http://www.w3.org/2000/svg";
  const MIN_ZOOM = 1;
  const MAX_ZOOM = 8;
  const STEP = 1.5;
  const SWIPE_PX = 50;
  const t = (text, params) => (window.t ? window.t(text, params) : text);
  const key = () => window.smartalbumKey;
  const headers = (extra = {}) => (key() ? key().headers(extra) : extra);

  const state = {
    ids: [],          // photo ids when opened by open(ids, index)
    grid: null,       // the data-viewer-grid container when opened from one
    element: null,    // the grid item shown (to return focus to it)
    index: 0,
    returnFocus: null,
    photo: null,      // GET /api/v1/photos/{id}
    model: null,      // GET /api/v1/model: the head and its labels
    faces: [],
    showFaces: true,
    showHeat: false,
    heat: null,       // {map, region} of the photo shown
    zoom: 1, tx: 0, ty: 0,
    fit: { left: 0, top: 0, width: 0, height: 0 },
    objectUrl: null,
    loadToken: 0,
  };
  let ui = null;

  // ---- building the dialog ------------------------------------------------------------------

  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(props)) {
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function toolButton(className, label, symbol) {
    return el("button", { type: "button", class: `viewer-button ${className}`, "aria-label": label, title: label },
      [el("span", { "aria-hidden": "true", text: symbol })]);
  }

  function build() {
    const title = el("h2", { class: "viewer-title", id: "viewer-title" });
    const counter = el("span", { class: "viewer-counter" });
    const zoomOut = toolButton("viewer-zoom-out", t("Zoom out (−)"), "−");
    const zoomIn = toolButton("viewer-zoom-in", t("Zoom in (+)"), "+");
    const facesToggle = toolButton("viewer-faces-toggle", t("Face boxes (F)"), "☺");
    facesToggle.setAttribute("aria-pressed", "true");
    const heatToggle = toolButton("viewer-heat-toggle", t("Heat-map: where the model looked (H)"), "◍");
    heatToggle.setAttribute("aria-pressed", "false");
    const download = el("a", { class: "viewer-button viewer-download", href: "#", download: "",
      "aria-label": t("Download the original"), title: t("Download the original") },
    [el("span", { "aria-hidden": "true", text: "⤓" })]);
    const close = toolButton("viewer-close", t("Close (Esc)"), "×");
    const bar = el("div", { class: "viewer-bar" }, [
      el("div", { class: "viewer-heading" }, [title, counter]),
      el("div", { class: "viewer-tools", role: "toolbar", "aria-label": t("Photo tools") },
        [zoomOut, zoomIn, facesToggle, heatToggle, download, close]),
    ]);

    const image = el("img", { class: "viewer-image", alt: "", draggable: "false" });
    const heat = el("canvas", { class: "viewer-heat", hidden: "" });
    const boxes = document.createElementNS(SVG, "svg");
    boxes.setAttribute("class", "viewer-faces");
    boxes.setAttribute("preserveAspectRatio", "none");
    boxes.setAttribute("aria-hidden", "true");
    const stage = el("div", { class: "viewer-stage" }, [image, heat, boxes]);
    const prev = toolButton("viewer-prev", t("Previous photo (←)"), "‹");
    const next = toolButton("viewer-next", t("Next photo (→)"), "›");
    const status = el("p", { class: "viewer-status", role: "status", "aria-live": "polite" });
    const area = el("div", { class: "viewer-area" }, [stage, prev, next, status]);

    const label = el("p", { class: "viewer-label" });
    const fix = el("div", { class: "viewer-fix", role: "group", "aria-label": t("Correct the label (keys 1–9)") });
    const hint = el("p", { class: "viewer-hint",
      text: t("← → photos · + − zoom · F faces · H heat-map · 1–9 correct · Esc close") });
    const info = el("div", { class: "viewer-info" }, [label, fix, hint]);

    const dialog = el("dialog", { class: "viewer", "aria-labelledby": "viewer-title" }, [bar, area, info]);
    document.body.append(dialog);
    ui = { dialog, title, counter, zoomOut, zoomIn, facesToggle, heatToggle, download, close,
      area, stage, image, heat, boxes, prev, next, status, label, fix };

    close.addEventListener("click", () => dialog.close());
    prev.addEventListener("click", () => step(-1));
    next.addEventListener("click", () => step(1));
    zoomIn.addEventListener("click", () => zoomBy(STEP));
    zoomOut.addEventListener("click", () => zoomBy(1 / STEP));
    facesToggle.addEventListener("click", toggleFaces);
    heatToggle.addEventListener("click", toggleHeat);
    download.addEventListener("click", onDownload);
    dialog.addEventListener("keydown", onKey);
    dialog.addEventListener("close", onClose);
    image.addEventListener("load", () => { layout(); drawFaces(); drawHeat(); });
    area.addEventListener("wheel", onWheel, { passive: false });
    area.addEventListener("dblclick", onDoubleClick);
    area.addEventListener("pointerdown", onPointerDown);
    new ResizeObserver(() => { if (dialog.open) layout(); }).observe(area);
    return ui;
  }

  // ---- opening, walking, closing -------------------------------------------------------------

  function gridItems(grid) {
    return [...grid.querySelectorAll("[data-viewer-photo]")]
      .filter((node) => node.getClientRects().length > 0 && /^\d+$/.test(node.dataset.viewerPhoto));
  }

  function openFromElement(element) {
    const grid = element.closest("[data-viewer-grid]");
    state.grid = grid;
    state.ids = [];
    state.element = element;
    show(element.dataset.viewerPhoto);
  }

  function open(ids, index = 0) {
    const list = (ids || []).map(Number).filter((n) => Number.isInteger(n) && n > 0);
    if (!list.length) return;
    state.grid = null;
    state.element = null;
    state.ids = list;
    state.index = Math.min(Math.max(0, index | 0), list.length - 1);
    show(String(list[state.index]));
  }

  function show(id) {
    if (!ui) build();
    if (!ui.dialog.open) {
      state.returnFocus = document.activeElement;
      ui.dialog.showModal();
      ui.close.focus();
    }
    load(Number(id));
  }

  function position() {
    if (state.grid) {
      const items = gridItems(state.grid);
      return { items, index: items.indexOf(state.element), total: items.length };
    }
    return { items: null, index: state.index, total: state.ids.length };
  }

  function step(delta) {
    const { items, index, total } = position();
    const target = index + delta;
    if (index < 0 || target < 0 || target >= total) {
      announce(delta > 0 ? t("This is the last photo.") : t("This is the first photo."));
      return;
    }
    if (items) {
      state.element = items[target];
      load(Number(state.element.dataset.viewerPhoto));
    } else {
      state.index = target;
      load(state.ids[target]);
    }
  }

  function onClose() {
    // "close" is dispatched as a task: when a script opened the viewer again in between,
    // this event is stale and must not empty the photo just shown.
    if (ui.dialog.open) return;
    state.loadToken += 1;
    if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
    state.objectUrl = null;
    ui.image.removeAttribute("src");
    const back = state.element && state.element.isConnected ? state.element : state.returnFocus;
    const focusable = back && back.matches && back.matches("a[href], button, input, select, textarea, [tabindex]")
      ? back : back && back.querySelector && back.querySelector("a[href], button, [tabindex]");
    if (focusable && typeof focusable.focus === "function") focusable.focus();
    else if (back && typeof back.focus === "function") back.focus();
  }

  // ---- loading a photo -----------------------------------------------------------------------

  async function getJson(url) {
    let resp = await fetch(url, { headers: headers() });
    if (resp.status === 401 && key()) {
      await key().ask();
      resp = await fetch(url, { headers: headers() });
    }
    const body = await resp.json().catch(() => ({}));
    if (!resp.ok) {
      const error = new Error(body.detail || resp.statusText);
      error.status = resp.status;
      throw error;
    }
    return body;
  }

  function previewSize() {
    const longest = Math.max(window.screen.width || 0, window.screen.height || 0) * (window.devicePixelRatio || 1);
    return longest > 1800 ? 2560 : 1600;
  }

  async function loadModel() {
    if (state.model) return state.model;
    try {
      const model = await getJson(`${API}/model`);
      const head = model.heads.find((h) => h.name === model.default_head) || model.heads[0];
      state.model = { head: head.name, labels: head.labels };
    } catch {
      state.model = { head: null, labels: [] };
    }
    return state.model;
  }

  async function load(id) {
    const token = ++state.loadToken;
    const { index, total } = position();
    ui.counter.textContent = total > 1 ? t("{n} of {total}", { n: index + 1, total }) : "";
    ui.prev.disabled = index <= 0;
    ui.next.disabled = index < 0 || index >= total - 1;
    ui.title.textContent = t("Photo {id}", { id });
    ui.label.textContent = "";
    ui.fix.replaceChildren();
    state.photo = null;
    state.faces = [];
    state.heat = null;
    ui.heat.hidden = true;
    ui.boxes.replaceChildren();
    resetZoom();
    announce(t("Loading…"));
    ui.stage.classList.add("loading");

    const original = `${API}/photos/${id}/original`;
    ui.download.href = `${original}?download=true`;
    ui.download.dataset.photoId = String(id);

    const preview = `${API}/photos/${id}/preview?size=${previewSize()}`;
    const picture = setImage(preview, token);
    const details = Promise.all([
      loadModel(),
      getJson(`${API}/photos/${id}`).catch(() => null),
      getJson(`${API}/photos/${id}/faces`).then((d) => d.faces || []).catch(() => []),
    ]);
    const [, photo, faces] = await details;
    if (token !== state.loadToken) return;
    state.photo = photo;
    state.faces = faces;
    showDetails(id);
    ui.facesToggle.hidden = !faces.length;
    drawFaces();
    if (state.showHeat) fetchHeat(id, token);
    try {
      await picture;
      if (token !== state.loadToken) return;
      announce("");
      prefetchNeighbours();
    } catch (err) {
      if (token !== state.loadToken) return;
      announce(t("The photo cannot be shown: {reason}", { reason: err.message }));
    }
    ui.stage.classList.remove("loading");
  }

  // The previous and next previews, so that ← and → show them at once (each is made once
  // on the server, then served from its disk cache). Not behind an API key: a plain image
  // request cannot carry it.
  function prefetchNeighbours() {
    if (key() && key().get()) return;
    const { items, index, total } = position();
    for (const i of [index + 1, index - 1]) {
      if (index < 0 || i < 0 || i >= total) continue;
      const id = items ? items[i].dataset.viewerPhoto : state.ids[i];
      new Image().src = `${API}/photos/${id}/preview?size=${previewSize()}`;
    }
  }

  function setImage(url, token) {
    return new Promise((resolve, reject) => {
      const done = () => { ui.image.removeEventListener("error", fail); resolve(); };
      const fail = () => { ui.image.removeEventListener("load", done); reject(new Error(t("no preview"))); };
      ui.image.addEventListener("load", done, { once: true });
      ui.image.addEventListener("error", fail, { once: true });
      if (!key() || !key().get()) { ui.image.src = url; return; }
      fetch(url, { headers: headers() })
        .then((resp) => {
          if (!resp.ok) throw new Error(resp.statusText);
          return resp.blob();
        })
        .then((blob) => {
          if (token !== state.loadToken) return;
          if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
          state.objectUrl = URL.createObjectURL(blob);
          ui.image.src = state.objectUrl;
        })
        .catch((err) => { ui.image.removeEventListener("load", done); ui.image.removeEventListener("error", fail); reject(err); });
    });
  }

  function percent(value) {
    const i18n = window.smartalbumI18n;
    return i18n ? i18n.number(value, { style: "percent", maximumFractionDigits: 0 }) : `${Math.round(value * 100)}%`;
  }

  function showDetails(id) {
    const photo = state.photo;
    if (photo && photo.path) {
      const name = photo.path.split(/[\\/]/).pop();
      ui.title.textContent = name;
      ui.download.setAttribute("download", name);
    }
    ui.image.alt = photo && photo.label ? t("Photo {id}: {label}", { id, label: photo.label }) : t("Photo {id}", { id });
    ui.label.replaceChildren();
    if (photo && photo.label) {
      ui.label.append(el("span", { class: "viewer-label-name", text: window.smartalbumI18n.label(photo.label) }));
      let note;
      if (photo.label_source === "correction") note = t("corrected by you");
      else if (photo.confidence !== null && photo.confidence !== undefined) {
        note = t("{confidence} sure", { confidence: percent(photo.confidence) });
      }
      if (note) ui.label.append(" ", el("span", { class: "viewer-label-note", text: note }));
      if (photo.uncertain) ui.label.append(" ", el("span", { class: "viewer-badge", text: t("uncertain") }));
    } else {
      ui.label.textContent = t("No label yet");
    }
    ui.fix.replaceChildren();
    const labels = (state.model && state.model.labels) || [];
    labels.slice(0, 9).forEach((label, i) => {
      const current = photo && photo.label === label;
      const button = el("button", { type: "button", class: "viewer-fix-button", "data-label": label,
        "aria-pressed": current ? "true" : "false",
        title: t("Label as {label} (key {key})", { label, key: i + 1 }) },
      [el("kbd", { text: String(i + 1) }), el("span", { text: window.smartalbumI18n.label(label) })]);
      button.addEventListener("click", () => correct(label));
      ui.fix.append(button);
    });
  }

  async function correct(label) {
    const photo = state.photo;
    if (!photo || !state.model || !state.model.labels.includes(label)) return;
    const token = state.loadToken;
    try {
      const resp = await fetch(`${API}/photos/${photo.id}`, {
        method: "PATCH",
        headers: headers({ "Content-Type": "application/json" }),
        body: JSON.stringify({ label, head: state.model.head }),
      });
      const body = await resp.json().catch(() => ({}));
      if (!resp.ok) throw new Error(body.detail || resp.statusText);
      if (token !== state.loadToken) return;
      state.photo = body;
      showDetails(photo.id);
      announce(t("Labelled {label}.", { label }));
      document.dispatchEvent(new CustomEvent("smartalbum:photo-changed",
        { detail: { item: body } }));
    } catch (err) {
      announce(t("The label could not be changed: {reason}", { reason: err.message }));
    }
  }

  function onDownload(ev) {
    if (!key() || !key().get()) return;  // a plain link: the browser saves the file itself
    ev.preventDefault();
    const url = ui.download.href;
    const name = ui.download.getAttribute("download") || "photo";
    fetch(url, { headers: headers() })
      .then((resp) => { if (!resp.ok) throw new Error(resp.statusText); return resp.blob(); })
      .then((blob) => {
        const link = el("a", { href: URL.createObjectURL(blob), download: name });
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
      })
      .catch((err) => announce(t("The download failed: {reason}", { reason: err.message })));
  }

  function announce(text) {
    ui.status.textContent = text;
    ui.status.hidden = !text;
  }

  // ---- fitting, zoom and pan -----------------------------------------------------------------

  function layout() {
    const natural = { w: ui.image.naturalWidth, h: ui.image.naturalHeight };
    const areaW = ui.area.clientWidth;
    const areaH = ui.area.clientHeight;
    if (!natural.w || !natural.h || !areaW || !areaH) return;
    const scale = Math.min(areaW / natural.w, areaH / natural.h);
    const width = natural.w * scale;
    const height = natural.h * scale;
    state.fit = { left: (areaW - width) / 2, top: (areaH - height) / 2, width, height };
    ui.stage.style.width = `${width}px`;
    ui.stage.style.height = `${height}px`;
    ui.boxes.setAttribute("viewBox", `0 0 ${natural.w} ${natural.h}`);
    clampPan();
    applyTransform();
  }

  function applyTransform() {
    const { left, top } = state.fit;
    ui.stage.style.transform = `translate(${left + state.tx}px, ${top + state.ty}px) scale(${state.zoom})`;
    ui.zoomOut.disabled = state.zoom <= MIN_ZOOM;
    ui.zoomIn.disabled = state.zoom >= MAX_ZOOM;
    ui.area.classList.toggle("zoomed", state.zoom > MIN_ZOOM);
  }

  // Keep the zoomed picture covering the area (or centred where it is smaller than it).
  function clampPan() {
    const { left, top, width, height } = state.fit;
    const areaW = ui.area.clientWidth;
    const areaH = ui.area.clientHeight;
    const clamp = (offset, start, size, room) => {
      const scaled = size * state.zoom;
      if (scaled <= room) return (room - scaled) / 2 - start;
      return Math.min(-start, Math.max(room - scaled - start, offset));
    };
    state.tx = clamp(state.tx, left, width, areaW);
    state.ty = clamp(state.ty, top, height, areaH);
  }

  function resetZoom() {
    state.zoom = 1; state.tx = 0; state.ty = 0;
    if (ui) applyTransform();
  }

  // Zoom by ``factor`` keeping the point (x, y) of the area (default: its centre) in place.
  function zoomBy(factor, x, y) {
    const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, state.zoom * factor));
    if (zoom === state.zoom) return;
    const px = x === undefined ? ui.area.clientWidth / 2 : x;
    const py = y === undefined ? ui.area.clientHeight / 2 : y;
    const { left, top } = state.fit;
    const u = (px - left - state.tx) / state.zoom;
    const v = (py - top - state.ty) / state.zoom;
    state.zoom = zoom;
    state.tx = px - left - u * zoom;
    state.ty = py - top - v * zoom;
    if (zoom === MIN_ZOOM) { state.tx = 0; state.ty = 0; }
    clampPan();
    applyTransform();
  }

  function areaPoint(ev) {
    const rect = ui.area.getBoundingClientRect();
    return [ev.clientX - rect.left, ev.clientY - rect.top];
  }

  function onWheel(ev) {
    ev.preventDefault();
    const [x, y] = areaPoint(ev);
    zoomBy(Math.exp(-ev.deltaY * 0.0015), x, y);
  }

  function onDoubleClick(ev) {
    if (ev.target.closest("button")) return;
    const [x, y] = areaPoint(ev);
    if (state.zoom > MIN_ZOOM) zoomBy(MIN_ZOOM / state.zoom, x, y);
    else zoomBy(2.5, x, y);
  }

  // A drag pans a zoomed picture; on a picture at fit size, a horizontal swipe walks.
  function onPointerDown(ev) {
    if (ev.button !== 0 || ev.target.closest("button")) return;
    const start = { x: ev.clientX, y: ev.clientY, tx: state.tx, ty: state.ty };
    const panning = state.zoom > MIN_ZOOM;
    ui.area.setPointerCapture(ev.pointerId);
    const move = (e) => {
      if (!panning) return;
      state.tx = start.tx + e.clientX - start.x;
      state.ty = start.ty + e.clientY - start.y;
      clampPan();
      applyTransform();
    };
    const up = (e) => {
      ui.area.removeEventListener("pointermove", move);
      ui.area.removeEventListener("pointerup", up);
      ui.area.removeEventListener("pointercancel", up);
      const dx = e.clientX - start.x;
      const dy = e.clientY - start.y;
      if (!panning && e.type === "pointerup" && Math.abs(dx) > SWIPE_PX && Math.abs(dx) > 2 * Math.abs(dy)) {
        step(dx < 0 ? 1 : -1);
      }
    };
    ui.area.addEventListener("pointermove", move);
    ui.area.addEventListener("pointerup", up);
    ui.area.addEventListener("pointercancel", up);
  }

  // ---- overlays: faces and heat-map, in the picture's own coordinates ----------------------

  function drawFaces() {
    ui.boxes.replaceChildren();
    const w = ui.image.naturalWidth;
    const h = ui.image.naturalHeight;
    ui.boxes.classList.toggle("off", !state.showFaces);
    if (!w || !h) return;
    for (const face of state.faces) {
      const box = face.box || face;
      const group = document.createElementNS(SVG, "g");
      group.setAttribute("class", "viewer-face");
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("x", String(box.x * w));
      rect.setAttribute("y", String(box.y * h));
      rect.setAttribute("width", String(box.w * w));
      rect.setAttribute("height", String(box.h * h));
      rect.setAttribute("vector-effect", "non-scaling-stroke");
      const name = face.person_name || (face.person_id ? t("Person {id}", { id: face.person_id }) : t("Unknown person"));
      const title = document.createElementNS(SVG, "title");
      title.textContent = name;
      rect.append(title);
      const text = document.createElementNS(SVG, "text");
      text.setAttribute("x", String(box.x * w));
      text.setAttribute("y", String(Math.min(h, (box.y + box.h) * h + Math.max(w, h) / 40)));
      text.setAttribute("font-size", String(Math.max(w, h) / 60));
      text.textContent = name;
      group.append(rect, text);
      ui.boxes.append(group);
    }
  }

  function toggleFaces() {
    state.showFaces = !state.showFaces;
    ui.facesToggle.setAttribute("aria-pressed", String(state.showFaces));
    drawFaces();
  }

  function toggleHeat() {
    state.showHeat = !state.showHeat;
    ui.heatToggle.setAttribute("aria-pressed", String(state.showHeat));
    if (!state.showHeat) { ui.heat.hidden = true; return; }
    if (state.heat) drawHeat();
    else if (state.photo) fetchHeat(state.photo.id, state.loadToken);
  }

  async function fetchHeat(id, token) {
    announce(t("Looking where the model looked…"));
    try {
      // A grid of a category's photos explains that category's head, else the app's head.
      const category = state.grid && state.grid.dataset.viewerCategory;
      const query = new URLSearchParams({ format: "json" });
      if (category) query.set("category", category);
      const data = await getJson(`${API}/photos/${id}/explain?${query}`);
      if (token !== state.loadToken) return;
      state.heat = { map: data.map, region: data.region || { x: 0, y: 0, w: 1, h: 1 } };
      announce("");
      drawHeat();
    } catch (err) {
      if (token !== state.loadToken) return;
      announce(t("No heat-map: {reason}", { reason: err.message }));
    }
  }

  // A blue-to-red scale ("jet"), transparent where the model did not look.
  function colour(v) {
    const c = (x) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * v - x))));
    return [c(3), c(2), c(1), Math.round(255 * Math.min(1, 0.25 + v))];
  }

  function drawHeat() {
    if (!state.showHeat || !state.heat || !state.heat.map.length) { ui.heat.hidden = true; return; }
    const { map, region } = state.heat;
    const rows = map.length;
    const cols = map[0].length;
    ui.heat.width = cols;
    ui.heat.height = rows;
    const ctx = ui.heat.getContext("2d");
    const pixels = ctx.createImageData(cols, rows);
    map.forEach((row, y) => row.forEach((v, x) => {
      pixels.data.set(colour(v), (y * cols + x) * 4);
    }));
    ctx.putImageData(pixels, 0, 0);
    ui.heat.style.left = `${region.x * 100}%`;
    ui.heat.style.top = `${region.y * 100}%`;
    ui.heat.style.width = `${region.w * 100}%`;
    ui.heat.style.height = `${region.h * 100}%`;
    ui.heat.hidden = false;
  }

  // ---- keys ----------------------------------------------------------------------------------

  function onKey(ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.key === "Tab") { trapFocus(ev); return; }
    const handlers = {
      ArrowLeft: () => step(-1),
      ArrowRight: () => step(1),
      "+": () => zoomBy(STEP),
      "=": () => zoomBy(STEP),
      "-": () => zoomBy(1 / STEP),
      "_": () => zoomBy(1 / STEP),
      "0": () => resetZoom(),
      f: toggleFaces,
      h: toggleHeat,
    };
    let handler = handlers[ev.key] || handlers[ev.key.toLowerCase()];
    if (!handler && /^[1-9]$/.test(ev.key)) {
      const labels = (state.model && state.model.labels) || [];
      const label = labels[Number(ev.key) - 1];
      if (label) handler = () => correct(label);
    }
    if (!handler) return;
    ev.preventDefault();
    handler();
  }

  // The dialog is modal (the page behind is inert); Tab also wraps inside it rather than
  // leaving for the browser's own controls.
  function trapFocus(ev) {
    const focusable = [...ui.dialog.querySelectorAll("button, a[href]")]
      .filter((node) => !node.disabled && !node.hidden && node.getClientRects().length > 0);
    if (!focusable.length) return;
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    if (ev.shiftKey && document.activeElement === first) { ev.preventDefault(); last.focus(); }
    else if (!ev.shiftKey && document.activeElement === last) { ev.preventDefault(); first.focus(); }
  }

  // ---- opening from any grid -----------------------------------------------------------------

  const CONTROLS = "button, input, select, textarea, label, summary";

  function viewerItem(target) {
    const item = target instanceof Element ? target.closest("[data-viewer-photo]") : null;
    if (!item || !item.closest("[data-viewer-grid]") || !/^\d+$/.test(item.dataset.viewerPhoto)) return null;
    const control = target.closest(CONTROLS);
    if (control && control !== item && item.contains(control)) return null;  // the tile's own buttons
    return item;
  }

  document.addEventListener("click", (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
    const item = viewerItem(ev.target);
    if (!item) return;
    ev.preventDefault();
    openFromElement(item);
  });

  // Enter on an item that is not a link or button itself (those turn Enter into a click).
  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter" || ev.defaultPrevented || ev.target.matches("a[href], button")) return;
    const item = viewerItem(ev.target);
    if (!item || item !== ev.target) return;
    ev.preventDefault();
    openFromElement(item);
  });

  window.smartalbumViewer = {
    open,
    close: () => { if (ui && ui.dialog.open) ui.dialog.close(); },
    current: () => (state.photo ? state.photo.id : null),
  };
})();
