// Smart Album categories: teach a category from picked or uploaded examples, list them,
// show one (photos, review queue, versions, retrain with a before/after report), and the
// heat-map toggle of the gallery photo page. Server strings go in with textContent only.
"use strict";

(() => {
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);
  const view = document.body.dataset.view;
  const { get: key, headers, ask } = window.smartalbumKey;
  const { number, date } = window.smartalbumI18n;
  const score = (v) => number(v, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  // A job's end state in words (the API's status codes are English identifiers).
  const STATUS = { done: t("done"), failed: t("failed"), cancelled: t("cancelled") };
  const statusText = (code) => STATUS[code] || code;
  // Why a version was made (the API's reason codes), in words.
  const REASONS = { create: t("created"), edit: t("examples changed"), retrain: t("retrained"),
    pseudo: t("grown with pseudo-labels"), import: t("imported"), restore: t("restored") };
  const reasonText = (code) => REASONS[code] || code;
  const when = (iso) => (iso ? date(new Date(iso), { dateStyle: "medium", timeStyle: "short" }) : "");

  // fetch() with the API key; on a 401 the page asks for the key (key.js) and tries again.
  async function api(path, options = {}) {
    let resp = await fetch(API + path, { ...options, headers: headers(options.headers) });
    for (let attempt = 0; resp.status === 401 && attempt < 5; attempt += 1) {
      await ask();
      resp = await fetch(API + path, { ...options, headers: headers(options.headers) });
    }
    if (!resp.ok) {
      let detail = resp.statusText;
      try { detail = (await resp.json()).detail || detail; } catch (_) { /* not JSON */ }
      throw new Error(detail);
    }
    return resp.status === 204 ? null : resp.json();
  }

  const postJSON = (path, body) => api(path, {
    method: "POST", body: JSON.stringify(body || {}),
    headers: { "Content-Type": "application/json" },
  });
  const enc = (name) => encodeURIComponent(name);

  function thumb(img, url) {
    if (!key()) { img.src = url; return; }
    fetch(url, { headers: headers() }).then((r) => r.blob())
      .then((b) => { img.src = URL.createObjectURL(b); }).catch(() => {});
  }

  function el(tag, props = {}, children = []) {
    const node = document.createElement(tag);
    Object.assign(node, props);
    for (const c of children) node.append(c);
    return node;
  }

  async function waitJob(job, status) {
    for (;;) {
      if (["done", "failed", "cancelled"].includes(job.status)) return job;
      status.textContent = t("Working… {done}/{total}",
        { done: number(job.done), total: job.total == null ? "?" : number(job.total) });
      await new Promise((r) => setTimeout(r, 700));
      job = await api(`/jobs/${job.id}`);
    }
  }

  // What a photo shows, in words (its alt text and its name for screen readers): never a
  // server path.
  function describePhoto(p) {
    const what = p.label ? t("{label} photo", { label: p.label }) : t("Photo");
    const where = [p.city, p.country].filter(Boolean).join(", ");
    const taken = p.taken_at ? date(new Date(p.taken_at),
      { year: "numeric", month: "long", day: "numeric" }) : "";
    return [what, where && t("in {place}", { place: where }), taken && t("taken {date}", { date: taken })]
      .filter(Boolean).join(t(", "));
  }

  // A category's size and how sure it is, as a person would say it.
  // (composed here from the API's numbers and codes, so it reads in the page's language)
  const CONFIDENCE = { sure: t("sure"), "fairly sure": t("fairly sure"), unsure: t("unsure") };
  function describeSize(c) {
    let size = t("{count} photos", { count: number(c.members) });
    if (typeof c.share === "number") {
      const share = c.share > 0 && c.share < 0.01
        ? `< ${number(0.01, { style: "percent" })}`
        : number(c.share, { style: "percent", maximumFractionDigits: 0 });
      size = t("{count} photos, {share} of your library", { count: number(c.members), share });
    }
    return c.confidence ? `${size} · ${CONFIDENCE[c.confidence] || c.confidence}` : size;
  }

  function describeRetrain(job) {
    if (job.status !== "done") return t("The job {status}: {message}", { status: statusText(job.status), message: job.message || "" });
    const lines = (job.result.reports || []).map((r) => {
      const b = r.before || {}, a = r.after || {};
      // In words a person reads: how many of their own labels, kept aside to check the new
      // head, it gets right, and how many the head before it got right.
      const right = (m) => (m && m.n ? number(Math.round(m.accuracy * m.n)) : "–");
      const fig = a.n
        ? t(" — checked on {count} of your labels kept aside: {after} right (before: {before})", {
          before: right(b), after: right(a), count: number(a.n) })
        : "";
      return `${r.category}: ${r.reason}${fig}`;
    });
    return lines.join("\n") || t("Nothing to retrain.");
  }

  // ---- categories list + create ----------------------------------------------------------

  async function initList() {
    const picks = new Map(); // sha256 -> "example" | "counter"
    let cursor = null;

    async function loadList() {
      const { categories } = await api("/categories");
      $("cat-empty").hidden = categories.length > 0;
      $("cat-list").replaceChildren(...categories.map((c) => el("li", {}, [
        el("a", { href: c.links.page, textContent: c.name }),
        el("span", { className: "hint",
          textContent: t("{size} · {examples} examples · version {version}", {
            size: describeSize(c), examples: number(c.examples), version: c.version ?? "–" }) }),
        ...(c.warning ? [el("p", { className: "warning", textContent: c.warning })] : []),
      ])));
    }

    function count() {
      const values = [...picks.values()];
      $("picked-count").textContent = number(values.filter((v) => v === "example").length);
      $("counter-count").textContent = number(values.filter((v) => v === "counter").length);
    }

    const STATE_TEXT = { example: t("example"), counter: t("counter-example"), undefined: t("not picked") };

    // One photo of the picker: a toggle button (Enter or Space, or a click: example, then
    // counter-example, then neither), named by what the photo shows and its state.
    function pickTile(p) {
      const desc = describePhoto(p);
      const img = el("img", { alt: desc, loading: "lazy" });
      thumb(img, p.thumbnail);
      const button = el("button", { type: "button", className: "pick" }, [img]);
      const li = el("li", {}, [button]);
      const show = () => {
        const state = picks.get(p.sha256);
        li.classList.remove("example", "counter");
        if (state) li.classList.add(state);
        button.setAttribute("aria-label", `${desc}: ${STATE_TEXT[state]}`);
        button.setAttribute("aria-pressed", state ? "true" : "false");
      };
      button.addEventListener("click", () => {
        const now = picks.get(p.sha256);
        const next = now === undefined ? "example" : now === "example" ? "counter" : undefined;
        if (next) picks.set(p.sha256, next); else picks.delete(p.sha256);
        show();
        count();
      });
      show();
      return li;
    }

    let query = "";

    async function loadPicker() {
      let photos;
      if (query) {  // words, a label, a date or a place: the library's own search
        const found = await api(`/search?q=${enc(query)}&limit=60`);
        photos = (found.results || []).map((r) => r.photo).filter(Boolean);
        cursor = null;
        $("picker-status").textContent = photos.length
          ? t("{count} photos found for “{query}”.", { count: number(photos.length), query })
          : (found.message || t("Nothing found for “{query}”.", { query }));
      } else {
        const q = cursor ? `&cursor=${enc(cursor)}` : "";
        const page = await api(`/photos?limit=60${q}`);
        photos = page.photos || page.items || [];
        cursor = page.next_cursor || null;
      }
      $("picker").append(...photos.map(pickTile));
      $("picker-more").hidden = !cursor;
    }

    // Arrow keys move between the picker's photos (Tab still leaves the grid).
    $("picker").addEventListener("keydown", (event) => {
      const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 };
      if (!(event.key in moves)) return;
      const tiles = [...$("picker").querySelectorAll("button.pick")];
      const at = tiles.indexOf(document.activeElement);
      if (at < 0) return;
      event.preventDefault();
      tiles[Math.max(0, Math.min(tiles.length - 1, at + moves[event.key]))].focus();
    });
    $("picker-search").addEventListener("submit", async (event) => {
      event.preventDefault();
      query = $("picker-q").value.trim();
      cursor = null;
      $("picker").replaceChildren();
      $("picker-status").textContent = query ? t("Searching…") : "";
      try { await loadPicker(); } catch (err) { $("picker-status").textContent = err.message; }
    });
    $("picker-more").addEventListener("click", loadPicker);
    $("create-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = new FormData();
      form.append("name", $("cat-name").value.trim());
      form.append("description", $("cat-description").value.trim());
      for (const [sha, kind] of picks) form.append(kind === "example" ? "examples" : "counter_examples", sha);
      for (const file of $("cat-upload").files) form.append("examples", file, file.name);
      $("create-status").textContent = t("Teaching…");
      try {
        const c = await api("/categories", { method: "POST", body: form });
        $("create-status").textContent = t("“{name}”: {size}.", { name: c.name, size: describeSize(c) }) +
          (c.warning ? " " + t("{warning} (on its page)", { warning: c.warning }) : "");
        picks.clear();
        $("picker").replaceChildren();
        cursor = null;
        loadPicker();
        count();
        loadList();
      } catch (err) {
        $("create-status").textContent = t("Could not create it: {error}", { error: err.message });
      }
    });
    $("retrain-all").addEventListener("click", async () => {
      const status = $("retrain-report");
      try {
        const job = await waitJob(await postJSON("/retrain", {}), status);
        status.textContent = describeRetrain(job);
        loadList();
      } catch (err) { status.textContent = err.message; }
    });
    await loadList();
    await loadPicker();
  }

  // ---- one category ------------------------------------------------------------------------

  async function initCategory() {
    const name = document.body.dataset.name;
    const base = `/categories/${enc(name)}`;
    let offset = 0;
    $("export").href = API + base + "/export";

    async function summary() {
      const c = await api(base);
      $("cat-summary").textContent = t(
        "{size} · taught from {examples} examples and {counter} counter-examples · version {version}", {
          size: describeSize(c), examples: number(c.examples), counter: number(c.counter_examples),
          version: c.version ?? "–" });
      $("cat-warning").textContent = c.warning || "";
      $("cat-warning").hidden = !c.warning;
      $("versions").replaceChildren(...c.versions.map((v) => {
        const li = el("li", {}, [el("strong", { textContent: t("version {version}", { version: v.version }) }),
          el("span", { textContent: reasonText(v.reason) }),
          ...(v.active ? [el("span", { className: "badge accent", textContent: t("active") })] : []),
          el("span", { className: "hint", textContent: when(v.created_at) })]);
        if (!v.active) {
          const b = el("button", { className: "button small", type: "button", textContent: t("Restore") });
          b.addEventListener("click", async () => {
            await postJSON(`${base}/versions/${v.version}/restore`);
            window.smartalbumUI.toast(t("Version {version} restored.", { version: v.version }));
            refresh();
          });
          li.append(b);
        }
        return li;
      }));
    }

    function card(p, buttons) {
      const named = t("Photo {id}, score {score}", { id: p.photo_id, score: score(p.score) });
      const img = el("img", { alt: named, loading: "lazy" });
      thumb(img, p.thumbnail);
      // The thumbnail opens the photo viewer (static/viewer.js; H there shows this
      // category's heat-map); "Why?" shows the heat-map beside the list.
      const open = el("button", { type: "button", className: "pick", title: t("Open the photo") }, [img]);
      open.setAttribute("aria-label", t("Photo {id}, score {score}: open", { id: p.photo_id, score: score(p.score) }));
      open.dataset.viewerPhoto = String(p.photo_id);
      const why = el("button", { type: "button", className: "button ghost", textContent: t("Why?"),
        title: t("Why? (heat-map)") });
      why.addEventListener("click", () => explain(p));
      const row = el("div", { className: "row" }, [why]);
      for (const [text, member] of buttons) {
        const b = el("button", { className: "button small", type: "button", textContent: text });
        b.addEventListener("click", async () => {
          await postJSON(`${base}/corrections`, { sha256: p.sha256, member });
          li.remove();
          summary();
        });
        row.append(b);
      }
      const li = el("li", {}, [open, el("span", { className: "score", textContent: score(p.score) }), row]);
      return li;
    }

    async function photos(reset) {
      if (reset) { offset = 0; $("photos").replaceChildren(); }
      const page = await api(`${base}/photos?limit=60&offset=${offset}`);
      $("photos").append(...page.photos.map((p) => card(p, [[t("Not this"), false]])));
      offset += page.photos.length;
      $("photos-more").hidden = page.photos.length < 60;
    }

    async function review() {
      const { photos: items } = await api(`${base}/review?limit=24`);
      $("review").replaceChildren(...items.map((p) => card(p, [[t("In"), true], [t("Out"), false]])));
    }

    async function explain(p) {
      $("explain-image").removeAttribute("src");
      if (!$("explain").open) $("explain").showModal();
      $("explain-caption").textContent = t("Looking…");
      try {
        const resp = await fetch(`${API}/photos/${p.photo_id}/explain?category=${enc(name)}`,
          { headers: headers() });
        if (!resp.ok) throw new Error((await resp.json()).detail);
        $("explain-image").src = URL.createObjectURL(await resp.blob());
        $("explain-caption").textContent = t("Photo {id} — score {score}", { id: p.photo_id, score: score(p.score) });
      } catch (err) { $("explain-caption").textContent = err.message; }
    }

    async function job(path) {
      const status = $("report");
      try {
        status.textContent = describeRetrain(await waitJob(await postJSON(path), status));
      } catch (err) { status.textContent = err.message; }
      refresh();
    }

    function refresh() { summary(); photos(true); review(); }

    $("explain-close").addEventListener("click", () => { $("explain").close(); });
    $("photos-more").addEventListener("click", () => photos(false));
    $("retrain").addEventListener("click", () => job("/retrain"));
    $("grow").addEventListener("click", async () => {
      const status = $("report");
      try {
        const done = await waitJob(await postJSON(`${base}/grow`), status);
        status.textContent = (done.result?.reports || []).map((r) => `${r.category}: ${r.reason}`).join("\n")
          || t("The job {status}: {message}", { status: statusText(done.status), message: done.message || "" });
      } catch (err) { status.textContent = err.message; }
      refresh();
    });
    $("delete").addEventListener("click", async () => {
      const sure = await window.smartalbumUI.confirm({
        title: t("Delete this category?"),
        message: t("Delete the category “{name}”? Photos are not touched.", { name }),
        confirm: t("Delete"), danger: true });
      if (!sure) return;
      await api(base, { method: "DELETE" });
      window.location.href = "/categories";
    });
    refresh();
  }

  // ---- gallery photo page: heat-map toggle -------------------------------------------------

  function initPhotoHeatmap() {
    const id = document.body.dataset.photoId;
    const view = $("photo-image");
    if (!id || !view) return;
    const button = el("button", { className: "button heatmap-toggle", type: "button",
      textContent: t("Show where the model looked") });
    const overlay = el("img", { className: "heatmap", alt: t("Heat-map of where the model looked"), hidden: true });
    const note = el("p", { className: "hint", role: "status" });
    view.after(overlay, button, note);
    // The heat-map lies over the photo, which keeps its place (hiding it moved everything
    // placed over it, such as the face boxes, onto the wrong spot).
    const place = () => {
      overlay.style.left = `${view.offsetLeft}px`;
      overlay.style.top = `${view.offsetTop}px`;
      overlay.style.width = `${view.clientWidth}px`;
      overlay.style.height = `${view.clientHeight}px`;
    };
    window.addEventListener("resize", place);
    button.addEventListener("click", async () => {
      if (!overlay.hidden) {
        overlay.hidden = true;
        button.textContent = t("Show where the model looked");
        return;
      }
      note.textContent = t("Looking…");
      try {
        const resp = await fetch(`${API}/photos/${id}/explain`, { headers: headers() });
        if (!resp.ok) throw new Error((await resp.json()).detail);
        overlay.src = URL.createObjectURL(await resp.blob());
        place();
        overlay.hidden = false; note.textContent = "";
        button.textContent = t("Show the photo");
      } catch (err) { note.textContent = t("No heat-map: {reason}", { reason: err.message }); }
    });
  }

  if (view === "categories") initList();
  else if (view === "category") initCategory();
  else if (view === "photo") initPhotoHeatmap();
})();
