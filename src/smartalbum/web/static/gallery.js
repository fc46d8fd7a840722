// Smart Album gallery: browse the catalog, review, duplicates and one photo's details.
//
// One script for the four gallery pages (the page says which in <body data-view>). Pages
// are filled from the library API; lists load page by page with the API's cursor (a
// "Load more" button, pressed for you when the end of the list scrolls into view). Every
// string from the server goes in with textContent, never as HTML.
"use strict";

(() => {
  const API = "/api/v1";
  const PAGE_SIZE = 60;
  const PALETTE_SIZE = 8;         // .c0 … .c7 in app.css
  const REASONS = { uncertain: "uncertain", blurry: "blurry", exposure: "badly exposed" };
  const REVIEW_FILTERS = ["review", "uncertain", "blurry", "bad_exposure"];
  const BROWSE_FILTERS = ["label", "year", "month", "country", "place", "camera", "q"];

  const $ = (id) => document.getElementById(id);
  const view = document.body.dataset.view;
  const state = {
    head: null,                    // the default head's name
    labels: [],                    // its labels, in order
    colour: new Map(),             // label -> palette index
    stats: null,
    onStats: [],                   // views redraw their counts with these
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
        throw new Problem(0, "Network error", "The server could not be reached.");
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

  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
  const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  const regionNames = (() => {
    try { return new Intl.DisplayNames(undefined, { type: "region" }); } catch { return null; }
  })();

  // taken_at is the camera's wall-clock time (no offset): show it as such.
  function formatDate(iso, withTime = false) {
    if (!iso) return "undated";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return (withTime ? dateTimeFormat : dateFormat).format(d);
  }

  function monthName(month) {
    return new Date(2000, month - 1, 1).toLocaleString(undefined, { month: "long" });
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

  // ---- model, stats ---------------------------------------------------------------------

  async function loadModel() {
    const model = await getJson(`${API}/model`);
    const head = model.heads.find((h) => h.name === model.default_head) || model.heads[0];
    state.head = head.name;
    state.labels = head.labels;
    head.labels.forEach((label, i) => state.colour.set(label, i % PALETTE_SIZE));
    $("model-info").textContent = `${model.name} · ${head.labels.length} categories`;
  }

  let statsTimer = null;
  async function loadStats() {
    try {
      state.stats = await getJson(`${API}/stats`);
    } catch (p) {
      notice(`Counts unavailable: ${p.title}.`);
      return;
    }
    if (!state.stats.catalog.available) {
      notice(`The photo catalog is not available (${state.stats.catalog.error}).`);
    }
    state.onStats.forEach((fn) => fn(state.stats));
  }

  // After a correction: counts change; fetch them again once clicks settle.
  function refreshStatsSoon() {
    clearTimeout(statsTimer);
    statsTimer = setTimeout(loadStats, 400);
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

  // ---- tiles and corrections ------------------------------------------------------------

  function fixButtons(container, item, onUpdated) {
    container.replaceChildren();
    container.setAttribute("aria-label", `Correct the label of photo ${item.id}`);
    const labels = [...state.labels];
    if (item.label && !labels.includes(item.label)) labels.push(item.label);
    for (const label of labels) {
      const b = el("button", "fix-button", label);
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
      announce(`Photo ${item.id} is now labelled ${label}.`);
      refreshStatsSoon();
    } catch (p) {
      notice(`The correction was not saved: ${p.title}. ${p.detail}`);
    } finally {
      container.classList.remove("busy");
      buttons.forEach((b) => { b.disabled = !state.labels.includes(b.dataset.label); });
    }
  }

  function makeTile(item) {
    const li = $("tile-template").content.firstElementChild.cloneNode(true);
    li.dataset.id = String(item.id);
    const link = li.querySelector(".thumb");
    link.href = `/gallery/photos/${item.id}`;
    setThumb(li.querySelector("img"), item.thumbnail, li);
    li.querySelector(".when").textContent = formatDate(item.taken_at);
    li.querySelector(".where").textContent = placeText(item);
    fixButtons(li.querySelector(".fix"), item, (updated) => updateTile(li, updated));
    updateTile(li, item);
    return li;
  }

  function updateTile(li, item) {
    setColour(li, item.label);
    li.dataset.label = item.label || "";
    li.dataset.source = item.label_source || "";
    li.classList.toggle("uncertain", item.uncertain);
    li.classList.toggle("corrected", item.label_source === "correction");
    li.querySelector(".label").textContent = item.label || "not classified";
    li.querySelector(".badge").hidden = !item.uncertain;
    const reasons = item.review.filter((r) => r !== "uncertain").map((r) => REASONS[r] || r);
    const reasonsEl = li.querySelector(".reasons");
    reasonsEl.textContent = reasons.join(" · ");
    reasonsEl.hidden = !reasons.length;
    const link = li.querySelector(".thumb");
    const where = placeText(item);
    link.setAttribute("aria-label",
      `${item.label || "Photo"}, ${formatDate(item.taken_at)}${where ? `, ${where}` : ""}`);
  }

  // ---- paging ---------------------------------------------------------------------------

  // Loads page after page into `list` with the API's cursor; `load(cursor)` returns
  // {items, next_cursor} and `render(page)` adds them. reset() starts over.
  function makePager(list, load, render) {
    const more = $("load-more");
    const empty = $("empty");
    let cursor = null;
    let done = false;
    let loading = false;
    let generation = 0;
    const sentinel = $("sentinel");

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
      } catch (p) {
        if (gen !== generation) return;
        failed = true;
        notice(`Could not load photos: ${p.title}. ${p.detail}`);
      } finally {
        if (gen === generation) {
          loading = false;
          more.disabled = false;
          more.hidden = done;
          empty.hidden = !done || list.children.length > 0;
        }
      }
      // Observing again reports whether the end is still in view (a short page, a tall
      // screen), which loads the next page at once; otherwise scrolling will.
      if (!failed && !done && gen === generation) {
        observer.unobserve(sentinel);
        observer.observe(sentinel);
      }
    }

    function reset() {
      generation += 1;
      cursor = null;
      done = false;
      loading = false;
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

  // ---- browse ---------------------------------------------------------------------------

  function initBrowse() {
    const list = $("photos");
    let filters = readFilters();

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

    const pager = makePager(
      list,
      (cursor) => getJson(`${API}/photos?${photoParams(filters, cursor)}`),
      (page) => {
        const fragment = document.createDocumentFragment();
        page.items.forEach((item) => fragment.appendChild(makeTile(item)));
        list.appendChild(fragment);
      },
    );

    function title() {
      const parts = [filters.label || "All photos"];
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
      if (state.stats) drawFacets(state.stats);
      pager.reset();
    }

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
      facetItem(labels, "All", stats.photos, withoutLabel, !filters.label);
      const counts = new Map(stats.labels.map((l) => [l.label, l.count]));
      const order = [...state.labels, ...stats.labels.map((l) => l.label).filter((l) => !state.labels.includes(l))];
      for (const label of order) {
        const a = facetItem(labels, label, counts.get(label) || 0,
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
      if (!stats.years.length) dates.appendChild(el("li", "none", "No dates yet"));

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
      if (!stats.countries.length) places.appendChild(el("li", "none", "No places yet"));

      const cameras = $("facet-cameras");
      cameras.replaceChildren();
      const { camera: _cam, ...withoutCamera } = filters;
      for (const c of stats.cameras.slice(0, 12)) {
        const on = filters.camera === c.camera;
        facetItem(cameras, c.camera, c.count, on ? withoutCamera : { ...withoutCamera, camera: c.camera }, on);
      }
      if (!stats.cameras.length) cameras.appendChild(el("li", "none", "No camera data yet"));
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
    title();
    pager.reset();
  }

  // ---- review ---------------------------------------------------------------------------

  function initReview() {
    const list = $("photos");
    const tabs = [...document.querySelectorAll("#review-tabs .chip")];
    const initial = new URLSearchParams(location.search).get("reason");
    let reason = REVIEW_FILTERS.includes(initial) ? initial : "review";

    const pager = makePager(
      list,
      (cursor) => getJson(`${API}/photos?${photoParams({ [reason]: "true" }, cursor)}`),
      (page) => {
        const fragment = document.createDocumentFragment();
        page.items.forEach((item) => fragment.appendChild(makeTile(item)));
        list.appendChild(fragment);
      },
    );

    function select(next, push = true) {
      reason = next;
      tabs.forEach((t) => t.setAttribute("aria-pressed", String(t.dataset.reason === reason)));
      if (push) history.pushState(null, "", reason === "review" ? "/gallery/review" : `/gallery/review?reason=${reason}`);
      pager.reset();
    }

    tabs.forEach((t) => t.addEventListener("click", () => select(t.dataset.reason)));
    window.addEventListener("popstate", () => {
      const r = new URLSearchParams(location.search).get("reason");
      select(REVIEW_FILTERS.includes(r) ? r : "review", false);
    });
    state.onStats.push((stats) => {
      const counts = { review: stats.review.any, ...stats.review };
      tabs.forEach((t) => { t.querySelector(".count").textContent = String(counts[t.dataset.reason] || 0); });
    });
    select(reason, false);
  }

  // ---- duplicates -----------------------------------------------------------------------

  function initDuplicates() {
    const list = $("groups");
    const groupTemplate = $("group-template");
    const memberTemplate = $("member-template");

    function renderGroup(group) {
      const li = groupTemplate.content.firstElementChild.cloneNode(true);
      li.dataset.kind = group.kind;
      const what = group.kind === "exact" ? "identical copies" : "near-duplicates";
      li.querySelector(".dup-title").textContent = `${group.members.length} ${what}`;
      li.querySelector(".dup-reason").textContent = `Keep: ${group.reason}`;
      const members = li.querySelector(".dup-members");
      group.members.forEach((m, i) => {
        const node = memberTemplate.content.firstElementChild.cloneNode(true);
        node.classList.toggle("keep", i === 0);
        node.querySelector(".keep-mark").hidden = i !== 0;
        node.querySelector(".thumb").href = `/gallery/photos/${m.photo_id}`;
        node.querySelector(".thumb").setAttribute("aria-label", `${i === 0 ? "Keep: " : ""}photo ${m.photo_id}`);
        setThumb(node.querySelector("img"), m.thumbnail, node);
        node.querySelector(".resolution").textContent = `${m.width} × ${m.height}`;
        node.querySelector(".size").textContent = formatBytes(m.size);
        node.querySelector(".taken").textContent = formatDate(m.taken_at, true);
        node.querySelector(".sharpness").textContent = m.blur === null ? "–" : String(Math.round(m.blur));
        const path = node.querySelector(".path");
        path.textContent = m.path ? shortPath(m.path) : "(no copy on disk)";
        path.title = m.path || "";
        members.appendChild(node);
      });
      return li;
    }

    const pager = makePager(
      list,
      (cursor) => getJson(`${API}/duplicates?${new URLSearchParams(cursor ? { cursor } : {})}`),
      (page) => {
        const fragment = document.createDocumentFragment();
        page.groups.forEach((g) => fragment.appendChild(renderGroup(g)));
        list.appendChild(fragment);
        $("dup-summary").textContent = `${page.total} group${page.total === 1 ? "" : "s"}`;
      },
    );
    pager.reset();
  }

  // ---- trips ----------------------------------------------------------------------------

  async function initTrips() {
    const list = $("trips");
    const template = $("trip-template");
    let body;
    try {
      body = await getJson(`${API}/trips`);
    } catch (p) {
      notice(`Trips unavailable: ${p.title}. ${p.detail}`);
      return;
    }
    if (body.home) {
      const how = body.home.source === "user" ? "set by you" : `learned from ${body.home.days} days of photos`;
      $("trips-home").textContent = `Home ${body.home.latitude.toFixed(3)}, ${body.home.longitude.toFixed(3)} (${how})`;
    }
    $("empty").hidden = body.trips.length > 0;
    for (const trip of body.trips) {
      const li = template.content.firstElementChild.cloneNode(true);
      li.dataset.trip = trip.id;
      li.querySelector(".trip-title").textContent = trip.title;
      const start = formatDate(trip.start);
      const end = formatDate(trip.end);
      li.querySelector(".trip-when").textContent = start === end ? start : `${start} – ${end}`;
      const places = trip.places.slice(0, 4).map((p) => p.name).join(", ");
      const far = `${Math.round(trip.farthest_km)} km from home at most`;
      li.querySelector(".trip-facts").textContent =
        `${trip.photos} photo${trip.photos === 1 ? "" : "s"}${places ? ` · ${places}` : ""} · ${far}`;
      const scenes = li.querySelector(".trip-scenes");
      for (const [label, count] of Object.entries(trip.labels)) {
        const chip = el("li", "chip");
        chip.append(el("span", "swatch"), el("span", "chip-name", label), el("span", "count", count));
        setColour(chip, label);
        scenes.appendChild(chip);
      }
      const preview = li.querySelector(".trip-preview");
      for (const p of trip.preview) {
        const item = el("li", "trip-photo");
        const a = el("a", "thumb");
        a.href = `/gallery/photos/${p.id}`;
        a.setAttribute("aria-label", `photo ${p.id} of ${trip.title}`);
        const img = el("img");
        img.alt = "";
        img.loading = "lazy";
        a.appendChild(img);
        item.appendChild(a);
        preview.appendChild(item);
        setThumb(img, p.thumbnail, item);
      }
      list.appendChild(li);
    }
    announce(`${body.trips.length} trip${body.trips.length === 1 ? "" : "s"}`);
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
      document.title = `${p.label || "Photo"} · Smart Album`;
      const verdict = article.querySelector(".verdict");
      setColour(verdict, p.label);
      $("photo-label").textContent = p.label || "not classified";
      const source = $("photo-source");
      source.textContent = p.label_source === "correction" ? "your label"
        : p.uncertain ? "uncertain" : p.label_source ? "model" : "";
      source.hidden = !source.textContent;
      markFix($("photo-fix"), p);
      const reasons = p.review.map((r) => REASONS[r] || r);
      $("photo-reasons").textContent = reasons.length ? `To review: ${reasons.join(", ")}` : "";

      const facts = $("photo-facts");
      facts.replaceChildren();
      const m = p.metadata;
      fact(facts, "Taken", p.taken_at ? `${formatDate(p.taken_at, true)}${m.taken_at_source === "file" ? " (file date: no EXIF date)" : ""}` : "unknown");
      if (m.tz_offset_min !== null) {
        const sign = m.tz_offset_min < 0 ? "−" : "+";
        const abs = Math.abs(m.tz_offset_min);
        fact(facts, "Time zone", `UTC${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`);
      }
      fact(facts, "Camera", p.camera);
      fact(facts, "Size", `${p.width} × ${p.height} px · ${p.format} · ${formatBytes(p.size)}`);
      fact(facts, "Place", [p.place.city, p.place.region, countryName(p.place.country)].filter(Boolean).join(", "));
      if (p.place.latitude !== null && p.place.longitude !== null) {
        fact(facts, "GPS", `${p.place.latitude.toFixed(5)}, ${p.place.longitude.toFixed(5)}${p.place.altitude !== null ? ` · ${Math.round(p.place.altitude)} m` : ""}`);
      }
      const q = p.quality;
      if (q.blur !== null) fact(facts, "Sharpness", `${Math.round(q.blur)}${q.blurry ? " (blurry)" : ""}`);
      if (q.exposure_verdict) fact(facts, "Exposure", `${q.exposure_verdict}${q.exposure_mean !== null ? ` (mean ${Math.round(q.exposure_mean * 100)}%)` : ""}`);
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
        probs.appendChild(el("li", "hint", `head ${p.prediction.head} · version ${p.prediction.head_version.slice(0, 8)}`));
      } else {
        probs.appendChild(el("li", "hint", "Not classified yet."));
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
      if (!p.corrections.length) corrections.appendChild(el("li", "hint", "None: the model's label counts."));
    }

    async function load() {
      let p;
      try {
        p = await getJson(`${API}/photos/${id}`);
      } catch (err) {
        notice(err.status === 404 ? "This photo is not in the catalog." : `Could not load the photo: ${err.title}.`);
        return;
      }
      const img = $("photo-image");
      img.alt = `Photo ${p.id}`;
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
      $("model-info").textContent = `Model unavailable: ${p.title}`;
    }
    const init = { browse: initBrowse, review: initReview, duplicates: initDuplicates, photo: initPhoto, trips: initTrips }[view];
    if (init) init();
    if (view === "browse" || view === "review") loadStats();
  }

  start();
})();
