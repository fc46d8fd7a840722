// Smart Album people: the people page (name, merge — asked first, then undoable —, move,
// "not this person", "not a face", scan and re-group jobs, a person's photos) and face boxes
// on the gallery's photo page. Every string from the server
// goes in with textContent. Face crops come as contact sheets (one JPEG per 200 faces, fetched
// with the API key, shown as blob: URLs): each face is a cell of its sheet, not a request.
"use strict";

(() => {
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);
  const state = { people: [] };
  const t = window.t || ((s, p = {}) => s.replace(/\{(\w+)\}/g, (m, k) => (k in p ? String(p[k]) : m)));
  const kit = () => window.smartalbumActions;  // loaded on the people page only

  const headers = () => window.smartalbumKey.headers();

  // The key form (key.js): every caller waits for the same answer.
  const askForKey = () => window.smartalbumKey.ask();

  async function api(path, options = {}) {
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const init = { ...options, headers: { ...(options.headers || {}), ...headers() } };
      const resp = await fetch(path, init);
      if (resp.status === 401) { await askForKey(); continue; }
      if (!resp.ok) {
        let detail = resp.statusText;
        try { detail = (await resp.json()).detail || detail; } catch { /* not JSON */ }
        throw new Error(detail);
      }
      return resp;
    }
    throw new Error(t("too many attempts"));
  }
  const getJson = async (path) => (await api(path)).json();
  const send = async (method, path, body) => (await api(path, {
    method, headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  })).json();

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function notice(text) {
    const box = $("notice");
    if (!box) return;
    box.textContent = text || "";
    box.hidden = !text;
  }

  // ---- face crops: contact sheets -------------------------------------------------------

  const SHEET_MAX = 200;  // ids per sheet (the API's limit)
  let sheetUrls = [];     // the blob: URLs shown now; revoked when the next load replaces them

  // A face's picture: an element with an accessible name whose background is its sheet cell.
  function faceCell(face, label) {
    const cell = el("span", "face-cell");
    cell.setAttribute("role", "img");
    cell.setAttribute("aria-label", label);
    cell.dataset.faceId = String(face.id);
    return cell;
  }

  // Fill every cell: one sheet request per SHEET_MAX faces, in parallel. Percent sizes and
  // positions keep a cell right at whatever size the stylesheet gives it.
  async function showSheets(cells) {
    const old = sheetUrls;
    sheetUrls = [];
    const parts = [];
    for (let start = 0; start < cells.length; start += SHEET_MAX) parts.push(cells.slice(start, start + SHEET_MAX));
    await Promise.all(parts.map(async (part) => {
      try {
        const resp = await api(`${API}/faces/sheet?ids=${part.map((c) => c.dataset.faceId).join(",")}`);
        const perRow = Number(resp.headers.get("X-Sheet-Columns")) || 10;
        const url = URL.createObjectURL(await resp.blob());
        sheetUrls.push(url);
        const columns = Math.min(perRow, part.length);
        const rows = Math.ceil(part.length / perRow);
        const at = (k, n) => (n > 1 ? (k / (n - 1)) * 100 : 0);
        part.forEach((cell, n) => {
          cell.style.backgroundImage = `url("${url}")`;
          cell.style.backgroundSize = `${columns * 100}% ${rows * 100}%`;
          cell.style.backgroundPosition = `${at(n % perRow, columns)}% ${at(Math.floor(n / perRow), rows)}%`;
          cell.classList.add("loaded");
        });
      } catch {
        for (const cell of part) cell.title = t("no preview");
      }
    }));
    old.forEach((url) => URL.revokeObjectURL(url));
  }

  // ---- people page ----------------------------------------------------------------------

  function personLabel(p) { return p.name || t("Person {id}", { id: p.id }); }

  function moveSelect(face) {
    const select = el("select");
    select.setAttribute("aria-label", t("Move face {id} to", { id: face.id }));
    select.append(new Option(t("Move to…"), ""), new Option(t("New person"), "new"));
    for (const p of state.people) {
      if (p.id !== face.person_id) select.append(new Option(personLabel(p), String(p.id)));
    }
    select.addEventListener("change", () => act(async () => {
      if (!select.value) return;
      if (select.value === "new") await send("POST", `${API}/people`, { faces: [face.id] });
      else await send("POST", `${API}/people/${select.value}/faces`, { faces: [face.id] });
    }));
    return select;
  }

  function faceItem(face, person) {
    const li = el("li", "face");
    const link = el("a");
    link.href = `/gallery/photos/${face.photo_id}`;
    link.dataset.viewerPhoto = String(face.photo_id);  // opens the viewer (static/viewer.js)
    link.append(faceCell(face, person ? t("{name}, face {id}", { name: personLabel(person), id: face.id }) : t("face {id}", { id: face.id })));
    li.append(link);
    // The corrections sit in one box: over the face's lower part where a pointer can hover
    // (shown on hover or focus), below it on touch screens (people.css).
    const actions = el("div", "face-actions");
    li.append(actions);
    if (person) {
      const reject = el("button", "button", t("Not them"));
      reject.type = "button";
      reject.title = t("Not {name}: never group this face with them again", { name: personLabel(person) });
      reject.addEventListener("click", () => act(() =>
        send("POST", `${API}/people/${person.id}/rejections`, { faces: [face.id] })));
      actions.append(reject);
    }
    const dismiss = el("button", "button ghost dismiss-face", t("Not a face"));
    dismiss.type = "button";
    dismiss.title = t("Not a face (a lamp, a window): hide this detection everywhere");
    dismiss.addEventListener("click", () => act(() =>
      send("POST", `${API}/faces/dismissals`, { faces: [face.id] })));
    actions.append(dismiss, moveSelect(face));
    return li;
  }

  function personItem(p) {
    const li = el("li", "person");
    const head = el("div", "person-head");
    const pick = el("input");
    pick.type = "checkbox";
    pick.value = String(p.id);
    pick.className = "merge-pick";
    pick.setAttribute("aria-label", t("Select {name} to merge", { name: personLabel(p) }));
    pick.addEventListener("change", updateMerge);
    const name = el("input");
    name.type = "text";
    name.value = p.name || "";
    name.placeholder = t("Person {id}: name", { id: p.id });
    name.setAttribute("aria-label", t("Name of person {id}", { id: p.id }));
    const save = el("button", "button", t("Name"));
    save.type = "button";
    save.addEventListener("click", () => act(() =>
      send("PATCH", `${API}/people/${p.id}`, { name: name.value })));
    const born = el("input");
    born.type = "date";
    born.value = p.birth_date || "";
    born.setAttribute("aria-label", t("Birth date of {name}", { name: personLabel(p) }));
    born.addEventListener("change", () => act(() =>
      send("PATCH", `${API}/people/${p.id}`, { birth_date: born.value || null })));
    const open = el("a", "", t("{faces} face(s) in {photos} photo(s)", { faces: p.faces, photos: p.photos }));
    open.href = `/people/${p.id}`;
    open.className = "person-count";
    head.append(pick, name, save, born, open);
    const strip = el("ul", "face-strip");
    strip.dataset.viewerGrid = "";
    for (const face of p.face_list || []) strip.append(faceItem(face, p));
    li.append(head, strip);
    return li;
  }

  function updateMerge() {
    const picked = document.querySelectorAll(".merge-pick:checked");
    $("merge").disabled = picked.length < 2;
  }

  async function act(fn) {
    try {
      notice("");
      await fn();
      await load();
    } catch (err) { notice(err.message); }
  }

  async function load() {
    const personId = document.body.dataset.personId;
    const list = $("people");
    if (personId) {
      const person = await getJson(`${API}/people/${personId}`);
      const all = await getJson(`${API}/people`);
      state.people = all.people;
      list.replaceChildren(personItem(person));
      showSheets([...list.querySelectorAll(".face-cell")]);
      $("all-people").hidden = false;
      $("people-empty").hidden = true;
      $("unassigned-section").hidden = true;
      await loadPhotos(person);
      return;
    }
    const data = await getJson(`${API}/people`);
    state.people = data.people;
    list.replaceChildren(...data.people.map(personItem));
    $("people-empty").hidden = data.people.length > 0;
    const strip = $("unassigned");
    strip.replaceChildren(...data.unassigned.map((f) => faceItem(f, null)));
    $("unassigned-section").hidden = data.unassigned.length === 0;
    showSheets([...list.querySelectorAll(".face-cell"), ...strip.querySelectorAll(".face-cell")]);
    if (!data.enabled) notice(t("Face processing is switched off (SMARTALBUM_FACES__ENABLED)."));
    updateMerge();
  }

  // A person's photos: a grid the viewer opens (data-viewer-grid / data-viewer-photo).
  async function loadPhotos(person) {
    const data = await getJson(`${API}/people/photos?person=${person.id}`);
    const grid = $("person-photos");
    grid.replaceChildren(...data.photos.map((p) => kit().photoTile(p.id, `${API}/photos/${p.id}/thumbnail`,
      t("Photo {id} of {name}", { id: p.id, name: personLabel(person) }))));
    $("person-photos-section").hidden = false;
  }

  // Merge asks first (a <dialog>), then offers to undo it.
  async function mergeSelected() {
    const ids = [...document.querySelectorAll(".merge-pick:checked")].map((c) => Number(c.value));
    if (ids.length < 2) return;
    const names = ids.map((id) => personLabel(state.people.find((p) => p.id === id) || { id }));
    const ok = await kit().confirmDialog(
      t("Merge {count} people?", { count: ids.length }),
      t("{names} become one person. You can undo this right after.", { names: names.join(", ") }),
      t("Merge"),
    );
    if (!ok) return;
    await act(async () => {
      const merged = await send("POST", `${API}/people/${ids[0]}/merge`, { people: ids.slice(1) });
      if (merged.merge) {
        kit().offerUndo(t("Merged {names}.", { names: names.join(", ") }), async () => {
          await send("POST", `${API}/people/merges/${merged.merge}/undo`);
          await load();
        });
      }
    });
  }

  async function runJob(path) {
    const status = $("job-status");
    const job = await send("POST", path, {});
    for (;;) {
      const now = await getJson(`${API}/jobs/${job.id}`);
      status.textContent = t("{kind}: {status} {done}/{total}", { kind: now.kind, status: now.status, done: now.done, total: now.total ?? "?" });
      if (["done", "failed", "cancelled"].includes(now.status)) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    await load();
  }

  function initPeople() {
    $("scan").addEventListener("click", () => runJob(`${API}/people/scan`).catch((e) => notice(e.message)));
    $("recluster").addEventListener("click", () => runJob(`${API}/people/recluster`).catch((e) => notice(e.message)));
    $("merge").addEventListener("click", mergeSelected);
    load().catch((err) => notice(err.message));
  }

  // ---- gallery photo page: face boxes ----------------------------------------------------

  async function initPhoto() {
    const id = document.body.dataset.photoId;
    const img = $("photo-image");
    if (!id || !img) return;
    let data;
    try { data = await getJson(`${API}/photos/${id}/faces`); } catch { return; }
    if (!data.faces.length) return;
    const frame = img.parentElement;
    frame.classList.add("has-faces");
    const place = () => {
      frame.querySelectorAll(".face-box").forEach((n) => n.remove());
      const left = img.offsetLeft;
      const top = img.offsetTop;
      for (const face of data.faces) {
        const box = el("div", "face-box");
        box.style.left = `${left + face.box.x * img.clientWidth}px`;
        box.style.top = `${top + face.box.y * img.clientHeight}px`;
        box.style.width = `${face.box.w * img.clientWidth}px`;
        box.style.height = `${face.box.h * img.clientHeight}px`;
        if (face.person_id) {
          const a = el("a", "", face.person_name || t("Person {id}", { id: face.person_id }));
          a.href = `/people/${face.person_id}`;
          box.append(a);
        } else {
          box.append(el("span", "", "?"));
        }
        frame.append(box);
      }
    };
    if (img.complete && img.naturalWidth) place();
    img.addEventListener("load", place);
    window.addEventListener("resize", place);
  }

  if (document.body.dataset.view === "people") initPeople();
  else if (document.body.dataset.view === "photo") initPhoto();
})();
