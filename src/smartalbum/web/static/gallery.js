// Smart Album gallery: browse the catalog, review, duplicates and one photo's details.
//
// One script for the gallery pages (the page says which in <body data-view>). Pages are
// filled from the library API; lists load page by page with the API's cursor (a "Load
// more" button, pressed for you when the end of the list scrolls into view). Every string
// from the server goes in with textContent, never as HTML; every string of ours goes
// through t() (static/i18n.js).
//
// The browse and review grids: photos grouped under month headers, one Tab stop for the
// whole grid (a roving tabindex: arrow keys move, Enter opens the viewer, Space selects),
// a selection (checkbox, shift-click ranges, Shift+arrows) with bulk actions, and a
// per-tile label menu. A corrected photo that no longer fits the view leaves it, with an
// undo toast.
"use strict";

(() => {
  const API = "/api/v1";
  const PAGE_SIZE = 60;
  const PALETTE_SIZE = 8;         // .c0 … .c7 in app.css
  const REVIEW_FILTERS = ["review", "uncertain", "blurry", "bad_exposure"];
  const BROWSE_FILTERS = ["label", "year", "month", "country", "place", "camera", "q"];
  const TOAST_MS = 8000;
  const UNDATED = "undated";

  const t = window.t || ((text) => text);
  const locale = (window.smartalbumI18n && window.smartalbumI18n.locale) || undefined;
  const REASONS = { uncertain: t("uncertain"), blurry: t("blurry"), exposure: t("badly exposed") };

  const $ = (id) => document.getElementById(id);
  const view = document.body.dataset.view;
  const state = {
    head: null,                    // the default head's name
    labels: [],                    // its labels, in order
    colour: new Map(),             // label -> palette index
    stats: null,
    onStats: [],                   // views redraw their counts with these
    items: new Map(),              // photo id -> the item its tile shows
    matches: () => true,           // does a (corrected) photo still belong in this view?
    onChanged: [],                 // after labels changed: counts, timeline
  };

  // ---- server ---------------------------------------------------------------------------

  class Problem extends Error {
    constructor(status, title, detail) {
      super(title);
      this.status = status;
      this.title = title;
      this.detail = detail || "";
    }
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  const authHeaders = () => window.smartalbumKey.headers();

  async function readProblem(resp) {
    try {
      const body = await resp.json();
      return new Problem(resp.status, body.title || resp.statusText, body.detail);
    } catch {
      return new Problem(resp.status, `HTTP ${resp.status}`, resp.statusText);
    }
  }

  // fetch() with the API key; asks for the key on 401 and waits out 429s.
  async function api(path, options = {}) {
    for (let attempt = 0; ; attempt += 1) {
      const init = { ...options, headers: { ...(options.headers || {}), ...authHeaders() } };
      let resp;
      try {
        resp = await fetch(path, init);
      } catch {
        throw new Problem(0, t("Network error"), t("The server could not be reached."));
      }
      if (resp.status === 401 && attempt < 5) {
        await askForKey();
        continue;
      }
      if (resp.status === 429 && attempt < 5) {
        const wait = Number(resp.headers.get("Retry-After")) || 2;
        await sleep(Math.min(wait, 60) * 1000);
        continue;
      }
      if (!resp.ok) throw await readProblem(resp);
      return resp;
    }
  }

  const getJson = async (path) => (await api(path)).json();
  const postJson = async (path, body) => (await api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  })).json();

  // The key form (key.js): every caller waits for the same answer.
  const askForKey = () => window.smartalbumKey.ask();

  // ---- small helpers --------------------------------------------------------------------

  function notice(text) {
    const el = $("notice");
    el.textContent = text;
    el.hidden = !text;
  }

  let lastAnnounce = "";
  function announce(text) {
    // the same text twice is still read out
    $("live").textContent = text === lastAnnounce ? `${text} ` : text;
    lastAnnounce = text;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function colourOf(label) {
    if (!state.colour.has(label)) state.colour.set(label, state.colour.size % PALETTE_SIZE);
    return state.colour.get(label);
  }

  function setColour(node, label) {
    for (let i = 0; i < PALETTE_SIZE; i += 1) node.classList.remove(`c${i}`);
    if (label) node.classList.add(`c${colourOf(label)}`);
  }

  const dateFormat = new Intl.DateTimeFormat(locale, { dateStyle: "medium" });
  const dateTimeFormat = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" });
  const monthYearFormat = new Intl.DateTimeFormat(locale, { year: "numeric", month: "long" });
  const shortMonthFormat = new Intl.DateTimeFormat(locale, { month: "short" });
  const numberFormat = new Intl.NumberFormat(locale);
  const regionNames = (() => {
    try { return new Intl.DisplayNames(locale, { type: "region" }); } catch { return null; }
  })();

  // taken_at is the camera's wall-clock time (no offset): show it as such.
  function formatDate(iso, withTime = false) {
    if (!iso) return t("undated");
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return (withTime ? dateTimeFormat : dateFormat).format(d);
  }

  function monthName(month) {
    return new Date(2000, month - 1, 1).toLocaleString(locale, { month: "long" });
  }

  function countryName(code) {
    if (!code) return "";
    try { return (regionNames && regionNames.of(code)) || code; } catch { return code; }
  }

  function placeText(item) {
    const parts = [item.city, item.city ? null : item.region, countryName(item.country)];
    return parts.filter(Boolean).join(", ");
  }

  // The end of a path is what tells copies apart: "…/2020/red/img_00.jpg".
  function shortPath(path) {
    const parts = path.split(/[\\/]/);
    return parts.length > 4 ? `…/${parts.slice(-3).join("/")}` : path;
  }

  function formatBytes(n) {
    if (n === null || n === undefined) return "–";
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
    return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  }

  // "2024-03" for a photo taken in March 2024, "undated" without a date.
  function monthKey(iso) {
    return iso && /^\d{4}-\d{2}/.test(iso) ? iso.slice(0, 7) : UNDATED;
  }

  function monthTitle(key) {
    if (key === UNDATED) return t("Undated");
    const [y, m] = key.split("-").map(Number);
    return monthYearFormat.format(new Date(y, m - 1, 1));
  }

  // ---- model, stats ---------------------------------------------------------------------

  async function loadModel() {
    const model = await getJson(`${API}/model`);
    const head = model.heads.find((h) => h.name === model.default_head) || model.heads[0];
    state.head = head.name;
    state.labels = head.labels;
    head.labels.forEach((label, i) => state.colour.set(label, i % PALETTE_SIZE));
    $("model-info").textContent = t("{model} · {n} categories", { model: model.name, n: head.labels.length });
  }

  let statsTimer = null;
  async function loadStats() {
    try {
      state.stats = await getJson(`${API}/stats`);
    } catch (p) {
      notice(t("Counts unavailable: {title}.", { title: p.title }));
      return;
    }
    if (!state.stats.catalog.available) {
      notice(t("The photo catalog is not available ({error}).", { error: state.stats.catalog.error }));
    }
    state.onStats.forEach((fn) => fn(state.stats));
  }

  // After a correction: counts change; fetch them again once clicks settle.
  function refreshStatsSoon() {
    clearTimeout(statsTimer);
    statsTimer = setTimeout(() => {
      loadStats();
      state.onChanged.forEach((fn) => fn());
    }, 400);
  }

  // ---- thumbnails -----------------------------------------------------------------------

  // Without an API key the browser loads (and caches) thumbnails itself; with one, an
  // <img> cannot send the header, so the picture is fetched and shown from a blob: URL.
  function setThumb(img, url, tile) {
    img.addEventListener("error", () => tile.classList.add("thumb-failed"), { once: true });
    if (!window.smartalbumKey.get()) {
      img.src = url;
      return;
    }
    api(url)
      .then((resp) => resp.blob())
      .then((blob) => { img.src = URL.createObjectURL(blob); })
      .catch(() => tile.classList.add("thumb-failed"));
  }

  // ---- the photo page's correction buttons ---------------------------------------------

  function fixButtons(container, item, onUpdated) {
    container.replaceChildren();
    container.setAttribute("aria-label", t("Correct the label of photo {id}", { id: item.id }));
    const labels = [...state.labels];
    if (item.label && !labels.includes(item.label)) labels.push(item.label);
    for (const label of labels) {
      const b = el("button", "fix-button", window.smartalbumI18n.label(label));
      b.type = "button";
      b.dataset.label = label;
      setColour(b, label);
      b.disabled = !state.labels.includes(label);
      b.addEventListener("click", () => correct(container, item, label, onUpdated));
      container.appendChild(b);
    }
    markFix(container, item);
  }

  function markFix(container, item) {
    for (const b of container.querySelectorAll(".fix-button")) {
      b.setAttribute("aria-pressed", String(b.dataset.label === item.label));
    }
  }

  async function correct(container, item, label, onUpdated) {
    if (item.label === label && item.label_source === "correction") return;
    const buttons = [...container.querySelectorAll(".fix-button")];
    buttons.forEach((b) => { b.disabled = true; });
    container.classList.add("busy");
    try {
      const resp = await api(`${API}/photos/${item.id}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ label, head: state.head }),
      });
      const updated = await resp.json();
      Object.assign(item, updated);
      markFix(container, item);
      onUpdated(item);
      announce(t("Photo {id} is now labelled {label}.", { id: item.id, label }));
    } catch (p) {
      notice(t("The correction was not saved: {title}. {detail}", { title: p.title, detail: p.detail }));
    } finally {
      container.classList.remove("busy");
      buttons.forEach((b) => { b.disabled = !state.labels.includes(b.dataset.label); });
    }
  }

  // ---- tiles ----------------------------------------------------------------------------

  function makeTile(item) {
    const li = $("tile-template").content.firstElementChild.cloneNode(true);
    li.dataset.id = String(item.id);
    const link = li.querySelector(".thumb");
    link.href = `/gallery/photos/${item.id}`;
    link.dataset.viewerPhoto = String(item.id);
    setThumb(li.querySelector("img"), item.thumbnail, li);
    state.items.set(item.id, item);
    updateTile(li, item);
    return li;
  }

  function updateTile(li, item) {
    setColour(li, item.label);
    li.dataset.label = item.label || "";
    li.dataset.source = item.label_source || "";
    li.classList.toggle("uncertain", item.uncertain);
    li.classList.toggle("corrected", item.label_source === "correction");
    li.querySelector(".label").textContent = window.smartalbumI18n.label(item.label) || t("not classified");
    li.querySelector(".badge").hidden = !item.uncertain;
    const reasons = item.review.filter((r) => r !== "uncertain").map((r) => REASONS[r] || r);
    const reasonsEl = li.querySelector(".reasons");
    reasonsEl.textContent = reasons.join(" · ");
    reasonsEl.hidden = !reasons.length;
    describeTile(li);
  }

  // What a screen reader says on the photo's link: label, date, place, selected.
  function describeTile(li) {
    const item = state.items.get(Number(li.dataset.id));
    if (!item) return;
    const where = placeText(item);
    const parts = [item.label || t("Photo"), formatDate(item.taken_at)];
    if (where) parts.push(where);
    if (item.uncertain) parts.push(t("uncertain"));
    if (li.classList.contains("selected")) parts.push(t("selected"));
    li.querySelector(".thumb").setAttribute("aria-label", parts.join(", "));
    li.querySelector(".pick-box").setAttribute("aria-label", t("Select {what}", { what: parts[0] }));
  }

  // ---- the grid: month groups, one Tab stop, selection ---------------------------------

  // Tiles go under month headers in the order pages come (newest first, undated last).
  // `counts` (month key -> photos in the whole listing) fills the headers when known.
  function makeGrid(container) {
    const counts = new Map();
    let current = null;            // the tile link that holds the grid's one Tab stop
    let anchor = null;             // where a shift-click or Shift+arrow range starts
    const selected = new Set();
    const onSelection = [];

    const tiles = () => [...container.querySelectorAll(".gallery-tile")];
    const linkOf = (li) => li.querySelector(".thumb");
    const tileOf = (node) => node && node.closest(".gallery-tile");

    function section(key) {
      const last = container.lastElementChild;
      if (last && last.dataset.month === key) return last.querySelector(".photo-grid");
      const sec = el("section", "month");
      sec.dataset.month = key;
      sec.id = `month-${key}`;
      const h = el("h3", "month-title");
      h.append(el("span", "month-name", monthTitle(key)), el("span", "count", ""));
      const ul = el("ul", "grid photo-grid");
      sec.append(h, ul);
      container.appendChild(sec);
      drawCount(sec);
      return ul;
    }

    function drawCount(sec) {
      const n = counts.get(sec.dataset.month);
      sec.querySelector(".month-title .count").textContent = n === undefined ? "" : numberFormat.format(n);
    }

    function add(items) {
      for (const item of items) {
        const li = makeTile(item);
        linkOf(li).addEventListener("click", onThumbClick);
        if (selected.has(item.id)) mark(li, true);
        section(monthKey(item.taken_at)).appendChild(li);
      }
      if (!current || !container.contains(current)) {
        const first = tiles()[0];
        if (first) setCurrent(first, false);
      }
    }

    function clear() {
      container.replaceChildren();
      current = null;
      anchor = null;
      state.items.clear();
      clearSelection();
    }

    function setCounts(months) {
      counts.clear();
      for (const m of months) counts.set(m.year ? `${m.year}-${String(m.month).padStart(2, "0")}` : UNDATED, m.count);
      container.querySelectorAll(".month").forEach(drawCount);
    }

    // Roving tabindex: only `li`'s link is in the Tab order.
    function setCurrent(li, focus = true) {
      if (current && current !== linkOf(li)) current.tabIndex = -1;
      current = linkOf(li);
      current.tabIndex = 0;
      if (focus) current.focus();
    }

    // The tile straight above or below `li` (by position: rows wrap, months break rows).
    function vertical(li, down) {
      const all = tiles();
      const box = li.getBoundingClientRect();
      const x = box.left + box.width / 2;
      let best = null;
      let bestRow = null;
      for (const other of down ? all : all.reverse()) {
        const b = other.getBoundingClientRect();
        const beyond = down ? b.top > box.top + 2 : b.top < box.top - 2;
        if (!beyond) continue;
        if (bestRow !== null && Math.abs(b.top - bestRow) > 2) break;
        bestRow = b.top;
        const d = Math.abs(b.left + b.width / 2 - x);
        if (!best || d < best.d) best = { li: other, d };
      }
      return best ? best.li : null;
    }

    function mark(li, on) {
      li.classList.toggle("selected", on);
      li.querySelector(".pick-box").checked = on;
      describeTile(li);
    }

    function select(li, on) {
      const id = Number(li.dataset.id);
      if (on) selected.add(id); else selected.delete(id);
      mark(li, on);
    }

    function selectRange(from, to) {
      const all = tiles();
      let a = all.indexOf(from);
      let b = all.indexOf(to);
      if (a < 0) a = b;
      if (a > b) [a, b] = [b, a];
      for (const li of all.slice(a, b + 1)) select(li, true);
    }

    function changed() {
      container.classList.toggle("selecting", selected.size > 0);
      onSelection.forEach((fn) => fn(selected.size));
    }

    function clearSelection() {
      for (const li of tiles()) if (li.classList.contains("selected")) mark(li, false);
      selected.clear();
      changed();
    }

    function selectAll() {
      for (const li of tiles()) select(li, true);
      changed();
    }

    // A checkbox: a click toggles, a shift-click selects the range from the last one.
    container.addEventListener("click", (ev) => {
      const box = ev.target.closest(".pick-box");
      if (!box) return;
      const li = tileOf(box);
      if (ev.shiftKey && anchor && container.contains(anchor)) selectRange(anchor, li);
      else select(li, box.checked);
      anchor = li;
      setCurrent(li, false);
      changed();
    });

    // While photos are selected, a click on a photo (or a shift/ctrl click) selects it
    // instead of opening it. Enter (a click with detail 0) always opens.
    function onThumbClick(ev) {
      const li = tileOf(ev.currentTarget);
      setCurrent(li, false);
      if (ev.detail === 0) return;
      if (!selected.size && !ev.shiftKey && !ev.ctrlKey && !ev.metaKey) return;
      ev.preventDefault();
      ev.stopImmediatePropagation();
      if (ev.shiftKey && anchor && container.contains(anchor)) selectRange(anchor, li);
      else select(li, !li.classList.contains("selected"));
      anchor = li;
      changed();
    }

    container.addEventListener("focusin", (ev) => {
      const li = tileOf(ev.target);
      if (li && ev.target === linkOf(li)) setCurrent(li, false);
    });

    container.addEventListener("keydown", (ev) => {
      const li = tileOf(ev.target);
      if (!li || ev.target !== linkOf(li) || ev.altKey) return;
      const all = tiles();
      const i = all.indexOf(li);
      let next = null;
      switch (ev.key) {
        case "ArrowRight": next = all[i + 1]; break;
        case "ArrowLeft": next = all[i - 1]; break;
        case "ArrowDown": next = vertical(li, true); break;
        case "ArrowUp": next = vertical(li, false); break;
        case "Home": next = all[0]; break;
        case "End": next = all[all.length - 1]; break;
        case " ":
          ev.preventDefault();
          if (ev.shiftKey && anchor && container.contains(anchor)) selectRange(anchor, li);
          else select(li, !li.classList.contains("selected"));
          anchor = li;
          changed();
          return;
        case "Escape":
          if (selected.size) { ev.preventDefault(); clearSelection(); announce(t("Selection cleared.")); }
          return;
        case "ContextMenu":
          ev.preventDefault();
          openTileMenu(li);
          return;
        case "F10":
          if (ev.shiftKey) { ev.preventDefault(); openTileMenu(li); }
          return;
        case "a":
        case "A":
          if (ev.ctrlKey || ev.metaKey) { ev.preventDefault(); selectAll(); }
          return;
        default:
          return;
      }
      ev.preventDefault();
      if (!next) return;
      if (ev.shiftKey) {
        if (!anchor || !container.contains(anchor)) { anchor = li; select(li, true); }
        selectRange(anchor, next);
        changed();
      }
      setCurrent(next);
      next.scrollIntoView({ block: "nearest" });
    });

    // Tiles of photos that leave the view, put back by the returned function (undo).
    function remove(ids) {
      const leaving = tiles().filter((li) => ids.includes(Number(li.dataset.id)));
      const places = leaving.map((li) => ({ li, parent: li.parentNode, next: li.nextElementSibling }));
      const all = tiles();
      if (current && leaving.includes(tileOf(current))) {
        const rest = all.filter((li) => !leaving.includes(li));
        const after = rest.find((li) => all.indexOf(li) > all.indexOf(tileOf(current)));
        const target = after || rest[rest.length - 1];
        const hadFocus = document.activeElement === current;
        current = null;
        if (target) setCurrent(target, hadFocus);
      }
      for (const { li } of places) {
        select(li, false);
        li.remove();
        state.items.delete(Number(li.dataset.id));
      }
      for (const sec of container.querySelectorAll(".month")) {
        sec.hidden = !sec.querySelector(".gallery-tile");
      }
      changed();
      return (items) => {
        const byId = new Map(items.map((i) => [i.id, i]));
        for (const { li, parent, next } of places.reverse()) {
          parent.insertBefore(li, next && next.isConnected ? next : null);
          parent.closest(".month").hidden = false;
          const item = byId.get(Number(li.dataset.id));
          if (item) { state.items.set(item.id, item); updateTile(li, item); }
        }
        if (!current) { const first = tiles()[0]; if (first) setCurrent(first, false); }
      };
    }

    function tileById(id) {
      return container.querySelector(`.gallery-tile[data-id="${Number(id)}"]`);
    }

    const grid = {
      add, clear, setCounts, remove, tiles, tileById, clearSelection, selectAll,
      selected: () => [...selected],
      onSelection: (fn) => onSelection.push(fn),
      onThumbClick,
      focusTile: (li) => setCurrent(li),
    };
    return grid;
  }

  // ---- the label menu -------------------------------------------------------------------

  let activeGrid = null;           // the page's grid (browse or review)
  let menuOpener = null;           // the button that opened the label menu
  let menuReturn = null;           // where focus goes back when it closes

  function closeMenu(refocus = true) {
    const menu = $("label-menu");
    if (!menu || menu.hidden) return;
    menu.hidden = true;
    if (menuOpener) menuOpener.setAttribute("aria-expanded", "false");
    if (refocus && menuReturn && menuReturn.isConnected) menuReturn.focus();
    menuOpener = null;
    menuReturn = null;
  }

  // A small menu of the head's labels under `opener`; `pick(label)` when one is chosen.
  function openMenu(opener, current, pick, focusBack = opener) {
    const menu = $("label-menu");
    if (!menu.hidden && menuOpener === opener) { closeMenu(); return; }  // a second click closes it
    closeMenu(false);
    menu.replaceChildren();
    for (const label of state.labels) {
      const item = el("button", "menu-item");
      item.type = "button";
      item.setAttribute("role", "menuitemradio");
      item.setAttribute("aria-checked", String(label === current));
      item.tabIndex = -1;
      item.dataset.label = label;
      setColour(item, label);
      item.append(el("span", "swatch"), el("span", "", label));
      item.addEventListener("click", () => { closeMenu(); pick(label); });
      menu.appendChild(item);
    }
    menuOpener = opener;
    menuReturn = focusBack;
    opener.setAttribute("aria-expanded", "true");
    menu.hidden = false;
    const box = opener.getBoundingClientRect();
    const width = menu.offsetWidth;
    menu.style.top = `${box.bottom + window.scrollY + 4}px`;
    menu.style.left = `${Math.max(8, Math.min(box.left + window.scrollX, window.scrollX + document.documentElement.clientWidth - width - 8))}px`;
    const items = [...menu.querySelectorAll(".menu-item")];
    (items.find((b) => b.getAttribute("aria-checked") === "true") || items[0]).focus();
  }

  function initMenu() {
    const menu = $("label-menu");
    if (!menu) return;
    menu.addEventListener("keydown", (ev) => {
      const items = [...menu.querySelectorAll(".menu-item")];
      const i = items.indexOf(document.activeElement);
      const go = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: items.length - 1 }[ev.key];
      if (go !== undefined) {
        ev.preventDefault();
        items[(go + items.length) % items.length].focus();
      } else if (ev.key === "Escape") {
        ev.preventDefault();
        closeMenu();
      } else if (ev.key === "Tab") {
        closeMenu();
      }
    });
    document.addEventListener("pointerdown", (ev) => {
      if (!menu.hidden && !menu.contains(ev.target) && !(menuOpener && menuOpener.contains(ev.target))) closeMenu(false);
    });
  }

  function openTileMenu(li) {
    const item = state.items.get(Number(li.dataset.id));
    if (!item) return;
    openMenu(li.querySelector(".tile-menu-button"), item.label, (label) => applyLabel([item.id], label),
      li.querySelector(".thumb"));
  }

  // ---- corrections, and photos that leave the view -------------------------------------

  let toastTimer = null;

  function toast(text, undo) {
    const box = $("toast");
    $("toast-text").textContent = text;
    const button = $("toast-undo");
    button.hidden = !undo;
    button.onclick = undo ? () => { hideToast(); undo(); } : null;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(hideToast, TOAST_MS);
  }

  function hideToast() {
    clearTimeout(toastTimer);
    $("toast").hidden = true;
  }

  // One correction per photo (one request); tiles are redrawn, and those that no longer
  // fit the view leave it. The toast's Undo withdraws the corrections and puts them back.
  async function applyLabel(ids, label) {
    let body;
    try {
      body = await postJson(`${API}/photos/bulk/label`, { ids, label, head: state.head });
    } catch (p) {
      notice(t("The correction was not saved: {title}. {detail}", { title: p.title, detail: p.detail }));
      return;
    }
    for (const item of body.items) {
      const li = activeGrid.tileById(item.id);
      if (li) { state.items.set(item.id, item); updateTile(li, item); }
    }
    const leaving = body.items.filter((item) => !state.matches(item)).map((item) => item.id);
    const putBack = leaving.length ? activeGrid.remove(leaving) : null;
    const n = body.corrected;
    let text = n === 1 ? t("Labelled {label}.", { label }) : t("{n} photos labelled {label}.", { n, label });
    if (leaving.length) {
      text += " " + (leaving.length === 1 ? t("It no longer fits this view.")
        : t("{n} no longer fit this view.", { n: leaving.length }));
    }
    announce(text);
    toast(text, () => undoLabel(body.corrections, putBack));
    refreshStatsSoon();
  }

  async function undoLabel(corrections, putBack) {
    let body;
    try {
      body = await postJson(`${API}/corrections/withdraw`, { ids: corrections, head: state.head });
    } catch (p) {
      notice(t("Could not undo: {title}. {detail}", { title: p.title, detail: p.detail }));
      return;
    }
    if (putBack) putBack(body.items);
    for (const item of body.items) {
      const li = activeGrid.tileById(item.id);
      if (li) { state.items.set(item.id, item); updateTile(li, item); }
    }
    announce(t("Undone."));
    refreshStatsSoon();
  }

  // ---- the selection bar and its bulk actions -------------------------------------------

  const BULK = {
    category: { title: t("Add to a category"), submit: t("Add as examples") },
    tags: { title: t("Tags"), submit: t("Apply") },
    organize: { title: t("Organise the selection"), submit: t("Start") },
    export: { title: t("Export a list"), submit: t("Download") },
  };

  function initSelection(grid) {
    const bar = $("selection-bar");
    if (!bar) return;
    const dialog = $("bulk-dialog");
    let action = null;

    grid.onSelection((n) => {
      bar.hidden = n === 0;
      $("selection-count").textContent = numberFormat.format(n);
    });
    $("selection-clear").addEventListener("click", () => grid.clearSelection());
    $("bulk-label").addEventListener("click", (ev) => {
      openMenu(ev.currentTarget, null, (label) => applyLabel(grid.selected(), label));
    });
    for (const button of bar.querySelectorAll("[data-action]")) {
      button.addEventListener("click", () => openBulk(button.dataset.action));
    }
    $("bulk-cancel").addEventListener("click", () => dialog.close());

    async function openBulk(name) {
      action = name;
      const n = grid.selected().length;
      $("bulk-title").textContent = BULK[name].title;
      $("bulk-submit").textContent = BULK[name].submit;
      $("bulk-what").textContent = n === 1 ? t("1 photo selected.") : t("{n} photos selected.", { n: numberFormat.format(n) });
      for (const part of dialog.querySelectorAll(".bulk-fields")) part.hidden = part.dataset.for !== name;
      $("bulk-error").hidden = true;
      dialog.showModal();
      if (name === "category") {
        $("bulk-category-name").focus();
        try {
          const body = await getJson(`${API}/categories`);
          $("bulk-category-list").replaceChildren(...body.categories.map((c) => {
            const option = el("option");
            option.value = c.name;
            return option;
          }));
        } catch { /* typing a name still works */ }
      }
    }

    $("bulk-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const ids = grid.selected();
      const submit = $("bulk-submit");
      submit.disabled = true;
      try {
        const done = await runBulk(action, ids);
        dialog.close();
        if (done) { toast(done); announce(done); }
      } catch (p) {
        const error = $("bulk-error");
        error.textContent = p.detail ? `${p.title}: ${p.detail}` : p.title;
        error.hidden = false;
      } finally {
        submit.disabled = false;
      }
    });
  }

  function checkedValue(name) {
    const input = document.querySelector(`input[name="${name}"]:checked`);
    return input ? input.value : null;
  }

  // Runs one bulk action; returns what to tell the user.
  async function runBulk(action, ids) {
    const n = ids.length;
    if (action === "category") {
      const name = $("bulk-category-name").value.trim();
      if (!name) throw new Problem(400, t("Name a category"));
      const examples = [...new Set(ids.map((id) => state.items.get(id)).filter(Boolean).map((i) => i.sha256))];
      let exists = false;
      try {
        await getJson(`${API}/categories/${encodeURIComponent(name)}`);
        exists = true;
      } catch (p) {
        if (p.status !== 404) throw p;
      }
      if (exists) await postJson(`${API}/categories/${encodeURIComponent(name)}/examples`, { examples });
      else await postJson(`${API}/categories`, { name, examples });
      return t("{n} photos added as examples of {name}.", { n, name });
    }
    if (action === "tags") {
      const tag = $("bulk-tag").value.trim();
      if (!tag) throw new Problem(400, t("Type a tag"));
      const remove = checkedValue("tag-op") === "remove";
      const body = await postJson(`${API}/photos/bulk/tags`, remove ? { ids, remove: [tag] } : { ids, add: [tag] });
      return remove ? t("Tag {tag} removed from {n} photos.", { tag, n: body.removed })
        : t("Tag {tag} added to {n} photos.", { tag, n: body.ids.length });
    }
    if (action === "organize") {
      const into = $("bulk-into").value.trim();
      if (!into) throw new Problem(400, t("Name a folder on the server"));
      await postJson(`${API}/jobs`, { kind: "organize", into, mode: $("bulk-mode").value, photo_ids: ids });
      return t("Organising {n} photos: follow it on the Jobs page.", { n });
    }
    if (action === "export") {
      const format = checkedValue("export-format") || "csv";
      const resp = await api(`${API}/photos/bulk/export`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ids, format, head: state.head }),
      });
      const url = URL.createObjectURL(await resp.blob());
      const a = el("a");
      a.href = url;
      a.download = format === "csv" ? "photos.csv" : "photos.txt";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      return t("List of {n} photos downloaded.", { n });
    }
    return null;
  }

  // ---- paging ---------------------------------------------------------------------------

  // Loads page after page with the API's cursor; `load(cursor)` returns {items,
  // next_cursor} and `render(page)` adds them. reset(from) starts over (at a cursor: a
  // timeline jump).
  function makePager(list, load, render, onReset = () => {}) {
    const more = $("load-more");
    const empty = $("empty");
    let cursor = null;
    let done = false;
    let loading = false;
    let generation = 0;
    const sentinel = $("sentinel");
    const firstPage = [];

    async function next() {
      if (loading || done) return;
      loading = true;
      more.disabled = true;
      const gen = generation;
      let failed = false;
      try {
        const page = await load(cursor);
        if (gen !== generation) return;
        render(page);
        cursor = page.next_cursor;
        done = !cursor;
        firstPage.splice(0).forEach((fn) => fn());
      } catch (p) {
        if (gen !== generation) return;
        failed = true;
        notice(t("Could not load photos: {title}. {detail}", { title: p.title, detail: p.detail }));
      } finally {
        if (gen === generation) {
          loading = false;
          more.disabled = false;
          more.hidden = done;
          empty.hidden = !done || list.querySelector(".tile, li") !== null;
        }
      }
      // Observing again reports whether the end is still in view (a short page, a tall
      // screen), which loads the next page at once; otherwise scrolling will.
      if (!failed && !done && gen === generation) {
        observer.unobserve(sentinel);
        observer.observe(sentinel);
      }
    }

    function reset(from = null, then = null) {
      generation += 1;
      cursor = from;
      done = false;
      loading = false;
      firstPage.splice(0);
      if (then) firstPage.push(then);
      onReset();
      list.replaceChildren();
      empty.hidden = true;
      more.hidden = true;
      next();
    }

    more.addEventListener("click", next);
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) next();
    }, { rootMargin: "800px 0px" });
    observer.observe(sentinel);
    return { next, reset };
  }

  function photoParams(filters, cursor) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(filters)) if (v) params.set(k, v);
    params.set("limit", String(PAGE_SIZE));
    if (cursor) params.set("cursor", cursor);
    return params;
  }

  // The grid of a browse or review page, paged from /api/v1/photos with `filters()`.
  function photoGrid(filters) {
    const container = $("photos");
    const grid = makeGrid(container);
    activeGrid = grid;
    initMenu();
    initSelection(grid);
    container.addEventListener("click", (ev) => {
      const button = ev.target.closest(".tile-menu-button");
      if (button) openTileMenu(button.closest(".gallery-tile"));
    });
    // A photo changed elsewhere on the page (the viewer's correction): redraw its tile, and
    // it leaves the view when it no longer fits. detail: {item: the photo as the API answers
    // it now, corrections?: [ids]}.
    document.addEventListener("smartalbum:photo-changed", (ev) => {
      const item = ev.detail && ev.detail.item;
      const li = item && grid.tileById(item.id);
      if (!li) return;
      state.items.set(item.id, item);
      updateTile(li, item);
      if (!state.matches(item)) {
        const putBack = grid.remove([item.id]);
        const ids = ev.detail.corrections;
        toast(t("It no longer fits this view."), ids && ids.length ? () => undoLabel(ids, putBack) : null);
      }
      refreshStatsSoon();
    });
    const pager = makePager(
      container,
      (cursor) => getJson(`${API}/photos?${photoParams(filters(), cursor)}`),
      (page) => grid.add(page.items),
      () => grid.clear(),
    );
    return { grid, pager };
  }

  // ---- browse ---------------------------------------------------------------------------

  function initBrowse() {
    let filters = readFilters();
    let timeline = [];
    const { grid, pager } = photoGrid(() => filters);
    // A photo corrected out of the label being shown leaves the view.
    state.matches = (item) => !filters.label || item.label === filters.label;

    function readFilters() {
      const params = new URLSearchParams(location.search);
      const out = {};
      for (const key of BROWSE_FILTERS) if (params.get(key)) out[key] = params.get(key);
      return out;
    }

    function hrefFor(f) {
      const params = new URLSearchParams();
      for (const key of BROWSE_FILTERS) if (f[key]) params.set(key, f[key]);
      const qs = params.toString();
      return qs ? `/gallery?${qs}` : "/gallery";
    }

    function title() {
      const parts = [filters.label || t("All photos")];
      if (filters.year) parts.push(filters.month ? `${monthName(Number(filters.month))} ${filters.year}` : filters.year);
      if (filters.place) parts.push(filters.place);
      else if (filters.country) parts.push(countryName(filters.country));
      if (filters.camera) parts.push(filters.camera);
      if (filters.q) parts.push(`“${filters.q}”`);
      $("view-title").textContent = parts.join(" · ");
      document.title = `${parts.join(" · ")} · Smart Album`;
      const clear = $("clear-filters");
      clear.hidden = !Object.keys(filters).length;
      clear.href = "/gallery";
      $("search").value = filters.q || "";
    }

    function go(next, push = true) {
      filters = Object.fromEntries(Object.entries(next).filter(([, v]) => v));
      if (push) history.pushState(null, "", hrefFor(filters));
      title();
      closeDrawer(false);
      if (state.stats) drawFacets(state.stats);
      $("jump-back").hidden = true;
      pager.reset(null, loadTimeline);
    }

    // ---- the timeline: months with counts; a jump starts the list at that month
    async function loadTimeline() {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(filters)) params.set(k, v);
      let body;
      try {
        body = await getJson(`${API}/photos/months?${params}`);
      } catch {
        return;  // the grid's own error says enough
      }
      timeline = body.months;
      grid.setCounts(timeline);
      drawTimeline();
    }

    function keyOf(m) {
      return m.year ? `${m.year}-${String(m.month).padStart(2, "0")}` : UNDATED;
    }

    function drawTimeline() {
      const list = $("timeline-list");
      list.replaceChildren();
      let yearList = null;
      let year = null;
      for (const m of timeline) {
        if (m.year !== year || !yearList) {
          year = m.year;
          const li = el("li", "timeline-year");
          li.appendChild(el("span", "timeline-year-name", year === null ? t("Undated") : year));
          yearList = el("ol", "timeline-months");
          li.appendChild(yearList);
          list.appendChild(li);
        }
        const item = el("li");
        const a = el("a", "timeline-month");
        a.href = `#month-${keyOf(m)}`;
        a.dataset.month = keyOf(m);
        a.title = `${monthTitle(keyOf(m))}: ${numberFormat.format(m.count)}`;
        a.append(el("span", "timeline-name", m.year === null ? "—" : shortMonthFormat.format(new Date(m.year, m.month - 1, 1))),
          el("span", "count", numberFormat.format(m.count)));
        a.addEventListener("click", (ev) => {
          ev.preventDefault();
          jump(m);
        });
        item.appendChild(a);
        yearList.appendChild(item);
      }
      spy();
    }

    function jump(m) {
      const key = keyOf(m);
      const loaded = document.getElementById(`month-${key}`);
      const reveal = () => {
        const sec = document.getElementById(`month-${key}`);
        if (!sec) return;
        sec.scrollIntoView({ block: "start" });
        const first = sec.querySelector(".gallery-tile");
        if (first) grid.focusTile(first);
      };
      if (loaded && !loaded.hidden) {
        reveal();
        return;
      }
      $("jump-back").hidden = timeline.length > 0 && keyOf(timeline[0]) === key;
      pager.reset(m.cursor, reveal);
    }

    // The month in view is marked in the timeline.
    let spyQueued = false;
    function spy() {
      spyQueued = false;
      const top = 90;
      let shown = null;
      for (const sec of document.querySelectorAll("#photos .month")) {
        if (!sec.hidden && sec.getBoundingClientRect().bottom > top) { shown = sec.dataset.month; break; }
      }
      for (const a of document.querySelectorAll("#timeline-list .timeline-month")) {
        if (a.dataset.month === shown) a.setAttribute("aria-current", "true");
        else a.removeAttribute("aria-current");
      }
    }
    window.addEventListener("scroll", () => {
      if (!spyQueued) { spyQueued = true; requestAnimationFrame(spy); }
    }, { passive: true });

    $("jump-newest").addEventListener("click", () => {
      $("jump-back").hidden = true;
      pager.reset(null, () => {
        const first = grid.tiles()[0];
        if (first) grid.focusTile(first);
      });
    });

    // ---- the filters' drawer (a narrow screen shows photos first)
    const drawer = $("filters");
    const toggle = $("open-filters");
    function openDrawer() {
      document.body.classList.add("filters-open");
      toggle.setAttribute("aria-expanded", "true");
      $("close-filters").focus();
    }
    function closeDrawer(refocus = true) {
      if (!document.body.classList.contains("filters-open")) return;
      document.body.classList.remove("filters-open");
      toggle.setAttribute("aria-expanded", "false");
      if (refocus) toggle.focus();
    }
    toggle.addEventListener("click", () => (document.body.classList.contains("filters-open") ? closeDrawer() : openDrawer()));
    $("close-filters").addEventListener("click", () => closeDrawer());
    drawer.addEventListener("keydown", (ev) => { if (ev.key === "Escape") closeDrawer(); });
    document.addEventListener("pointerdown", (ev) => {
      if (document.body.classList.contains("filters-open") && !drawer.contains(ev.target) && !toggle.contains(ev.target)) {
        closeDrawer(false);
      }
    });

    // A facet link: a real link (open in a new tab works), followed here without a reload.
    function facetItem(ul, text, count, next, active, depth = 0) {
      const li = el("li", depth ? "sub" : "");
      const a = el("a", "facet");
      a.href = hrefFor(next);
      if (active) a.setAttribute("aria-current", "true");
      a.append(el("span", "facet-name", text), el("span", "count", count));
      a.addEventListener("click", (ev) => {
        if (ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.button !== 0) return;
        ev.preventDefault();
        go(next);
      });
      li.appendChild(a);
      ul.appendChild(li);
      return a;
    }

    function drawFacets(stats) {
      const labels = $("facet-labels");
      labels.replaceChildren();
      const { label: _l, ...withoutLabel } = filters;
      facetItem(labels, t("All"), stats.photos, withoutLabel, !filters.label);
      const counts = new Map(stats.labels.map((l) => [l.label, l.count]));
      const order = [...state.labels, ...stats.labels.map((l) => l.label).filter((l) => !state.labels.includes(l))];
      for (const label of order) {
        const a = facetItem(labels, window.smartalbumI18n.label(label), counts.get(label) || 0,
          filters.label === label ? withoutLabel : { ...filters, label }, filters.label === label);
        setColour(a, label);
        a.prepend(el("span", "swatch"));
      }

      const dates = $("facet-dates");
      dates.replaceChildren();
      const { year: _y, month: _m, ...withoutDate } = filters;
      for (const y of stats.years) {
        const active = String(y.year) === filters.year;
        facetItem(dates, y.year, y.count, active && !filters.month ? withoutDate : { ...withoutDate, year: String(y.year) }, active && !filters.month);
        if (!active) continue;
        for (const m of y.months) {
          const on = filters.month === String(m.month);
          facetItem(dates, monthName(m.month), m.count,
            on ? { ...withoutDate, year: String(y.year) } : { ...withoutDate, year: String(y.year), month: String(m.month) }, on, 1);
        }
      }
      if (!stats.years.length) dates.appendChild(el("li", "none", t("No dates yet")));

      const places = $("facet-places");
      places.replaceChildren();
      const { country: _c, place: _p, ...withoutPlace } = filters;
      for (const c of stats.countries.slice(0, 30)) {
        const active = filters.country === c.country;
        facetItem(places, countryName(c.country), c.count,
          active && !filters.place ? withoutPlace : { ...withoutPlace, country: c.country }, active && !filters.place);
        if (!active) continue;
        for (const p of stats.places.filter((x) => x.country === c.country).slice(0, 40)) {
          const on = filters.place === p.city;
          facetItem(places, p.city, p.count,
            on ? { ...withoutPlace, country: c.country } : { ...withoutPlace, country: c.country, place: p.city }, on, 1);
        }
      }
      if (!stats.countries.length) places.appendChild(el("li", "none", t("No places yet")));

      const cameras = $("facet-cameras");
      cameras.replaceChildren();
      const { camera: _cam, ...withoutCamera } = filters;
      for (const c of stats.cameras.slice(0, 12)) {
        const on = filters.camera === c.camera;
        facetItem(cameras, c.camera, c.count, on ? withoutCamera : { ...withoutCamera, camera: c.camera }, on);
      }
      if (!stats.cameras.length) cameras.appendChild(el("li", "none", t("No camera data yet")));
    }

    $("search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      go({ ...filters, q: $("search").value.trim() });
    });
    $("clear-filters").addEventListener("click", (ev) => {
      ev.preventDefault();
      go({});
    });
    window.addEventListener("popstate", () => go(readFilters(), false));
    state.onStats.push(drawFacets);
    state.onChanged.push(loadTimeline);
    title();
    // The timeline is asked once the first photos show: it never delays them.
    pager.reset(null, loadTimeline);
  }

  // ---- review ---------------------------------------------------------------------------

  function initReview() {
    const tabs = [...document.querySelectorAll("#review-tabs .chip")];
    const initial = new URLSearchParams(location.search).get("reason");
    let reason = REVIEW_FILTERS.includes(initial) ? initial : "review";
    const { pager } = photoGrid(() => ({ [reason]: "true" }));
    // A corrected photo is no longer uncertain: it leaves the lists that show it for that.
    state.matches = (item) => {
      if (reason === "uncertain") return item.uncertain;
      if (reason === "review") return item.review.length > 0;
      return true;
    };

    function select(next, push = true) {
      reason = next;
      tabs.forEach((tab) => tab.setAttribute("aria-pressed", String(tab.dataset.reason === reason)));
      if (push) history.pushState(null, "", reason === "review" ? "/gallery/review" : `/gallery/review?reason=${reason}`);
      pager.reset();
    }

    tabs.forEach((tab) => tab.addEventListener("click", () => select(tab.dataset.reason)));
    window.addEventListener("popstate", () => {
      const r = new URLSearchParams(location.search).get("reason");
      select(REVIEW_FILTERS.includes(r) ? r : "review", false);
    });
    state.onStats.push((stats) => {
      const counts = { review: stats.review.any, ...stats.review };
      tabs.forEach((tab) => { tab.querySelector(".count").textContent = String(counts[tab.dataset.reason] || 0); });
    });
    select(reason, false);
  }

  // ---- one photo ------------------------------------------------------------------------

  function initPhoto() {
    const id = Number(document.body.dataset.photoId);
    const article = $("photo");

    function fact(dl, name, value) {
      if (value === null || value === undefined || value === "") return;
      dl.append(el("dt", "", name), el("dd", "", value));
    }

    function render(p) {
      article.hidden = false;
      const where = placeText(p);
      $("photo-title").textContent = `${formatDate(p.taken_at, true)}${where ? ` · ${where}` : ""}`;
      document.title = `${p.label || t("Photo")} · Smart Album`;
      const verdict = article.querySelector(".verdict");
      setColour(verdict, p.label);
      $("photo-label").textContent = window.smartalbumI18n.label(p.label) || t("not classified");
      const source = $("photo-source");
      source.textContent = p.label_source === "correction" ? t("your label")
        : p.uncertain ? t("uncertain") : p.label_source ? t("model") : "";
      source.hidden = !source.textContent;
      markFix($("photo-fix"), p);
      const reasons = p.review.map((r) => REASONS[r] || r);
      $("photo-reasons").textContent = reasons.length ? t("To review: {reasons}", { reasons: reasons.join(", ") }) : "";

      const facts = $("photo-facts");
      facts.replaceChildren();
      const m = p.metadata;
      fact(facts, t("Taken"), p.taken_at ? `${formatDate(p.taken_at, true)}${m.taken_at_source === "file" ? ` ${t("(file date: no EXIF date)")}` : ""}` : t("unknown"));
      if (m.tz_offset_min !== null) {
        const sign = m.tz_offset_min < 0 ? "−" : "+";
        const abs = Math.abs(m.tz_offset_min);
        fact(facts, t("Time zone"), `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`);
      }
      fact(facts, t("Camera"), p.camera);
      fact(facts, t("Size"), `${p.width} × ${p.height} px · ${p.format} · ${formatBytes(p.size)}`);
      fact(facts, t("Place"), [p.place.city, p.place.region, countryName(p.place.country)].filter(Boolean).join(", "));
      if (p.place.latitude !== null && p.place.longitude !== null) {
        fact(facts, t("GPS"), `${p.place.latitude.toFixed(5)}, ${p.place.longitude.toFixed(5)}${p.place.altitude !== null ? ` · ${Math.round(p.place.altitude)} m` : ""}`);
      }
      const q = p.quality;
      if (q.blur !== null) fact(facts, t("Sharpness"), `${Math.round(q.blur)}${q.blurry ? ` (${t("blurry")})` : ""}`);
      if (q.exposure_verdict) fact(facts, t("Exposure"), `${q.exposure_verdict}${q.exposure_mean !== null ? ` (${t("mean {percent}%", { percent: Math.round(q.exposure_mean * 100) })})` : ""}`);
      fact(facts, "SHA-256", p.sha256);

      const probs = $("photo-probabilities");
      probs.replaceChildren();
      if (p.prediction) {
        const entries = Object.entries(p.prediction.probabilities).sort((a, b) => b[1] - a[1]);
        for (const [label, value] of entries) {
          const li = el("li", "prob");
          setColour(li, label);
          const bar = el("span", "bar");
          const fill = el("span", "fill");
          fill.style.width = `${Math.round(value * 100)}%`;
          bar.appendChild(fill);
          li.append(el("span", "prob-label", label), bar, el("span", "percent", `${Math.round(value * 100)}%`));
          probs.appendChild(li);
        }
        probs.appendChild(el("li", "hint", t("head {head} · version {version}", { head: p.prediction.head, version: p.prediction.head_version.slice(0, 8) })));
      } else {
        probs.appendChild(el("li", "hint", t("Not classified yet.")));
      }

      const files = $("photo-files");
      files.replaceChildren();
      for (const f of p.files) {
        const li = el("li", f.status === "present" ? "" : "missing", f.path);
        if (f.status !== "present") li.append(el("span", "badge", f.status));
        files.appendChild(li);
      }

      const corrections = $("photo-corrections");
      corrections.replaceChildren();
      for (const c of p.corrections) {
        corrections.appendChild(el("li", "", `${c.label} · ${formatDate(c.created_at, true)} (UTC) · ${c.source}`));
      }
      if (!p.corrections.length) corrections.appendChild(el("li", "hint", t("None: the model's label counts.")));
    }

    async function load() {
      let p;
      try {
        p = await getJson(`${API}/photos/${id}`);
      } catch (err) {
        notice(err.status === 404 ? t("This photo is not in the catalog.") : t("Could not load the photo: {title}.", { title: err.title }));
        return;
      }
      const img = $("photo-image");
      img.alt = t("Photo {id}", { id: p.id });
      img.dataset.viewerPhoto = String(p.id);
      setThumb(img, p.thumbnail, article);
      fixButtons($("photo-fix"), p, render);
      render(p);
    }
    load();
  }

  // ---- start ----------------------------------------------------------------------------

  async function start() {
    try {
      await loadModel();
    } catch (p) {
      $("model-info").textContent = t("Model unavailable: {title}", { title: p.title });
    }
    const init = { browse: initBrowse, review: initReview, photo: initPhoto }[view];
    if (init) init();
    if (view === "browse" || view === "review") loadStats();
  }

  start();
})();
