// Smart Album categories: teach a category from picked or uploaded examples, list them,
// show one (photos, review queue, versions, retrain with a before/after report), and the
// heat-map toggle of the gallery photo page. Server strings go in with textContent only.
"use strict";

(() => {
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);
  const view = document.body.dataset.view;
  const { get: key, headers } = window.smartalbumKey;

  async function api(path, options = {}) {
    const resp = await fetch(API + path, { ...options, headers: headers(options.headers) });
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
      status.textContent = `Working… ${job.done}/${job.total ?? "?"}`;
      await new Promise((r) => setTimeout(r, 700));
      job = await api(`/jobs/${job.id}`);
    }
  }

  function describeRetrain(job) {
    if (job.status !== "done") return `The job ${job.status}: ${job.message || ""}`;
    const lines = (job.result.reports || []).map((r) => {
      const b = r.before || {}, a = r.after || {};
      const fig = a.balanced_accuracy !== undefined
        ? ` — balanced accuracy ${b.balanced_accuracy ?? "–"} → ${a.balanced_accuracy} on ${r.held_back} held-back labels`
        : "";
      return `${r.category}: ${r.reason}${fig}`;
    });
    return lines.join("\n") || "Nothing to retrain.";
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
          textContent: `${c.members} photos · ${c.examples} examples · v${c.version ?? "–"}` }),
      ])));
    }

    function count() {
      const values = [...picks.values()];
      $("picked-count").textContent = values.filter((v) => v === "example").length;
      $("counter-count").textContent = values.filter((v) => v === "counter").length;
    }

    async function loadPicker() {
      const q = cursor ? `&cursor=${enc(cursor)}` : "";
      const page = await api(`/photos?limit=60${q}`);
      for (const p of page.photos || page.items || []) {
        const img = el("img", { alt: p.path || p.sha256, loading: "lazy" });
        thumb(img, p.thumbnail);
        const li = el("li", { title: p.path || "" }, [img]);
        img.addEventListener("click", () => {
          const now = picks.get(p.sha256);
          const next = now === undefined ? "example" : now === "example" ? "counter" : undefined;
          li.classList.remove("example", "counter");
          if (next) { picks.set(p.sha256, next); li.classList.add(next); } else picks.delete(p.sha256);
          count();
        });
        $("picker").append(li);
      }
      cursor = page.next_cursor || null;
      $("picker-more").hidden = !cursor;
    }

    $("picker-more").addEventListener("click", loadPicker);
    $("create-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = new FormData();
      form.append("name", $("cat-name").value.trim());
      form.append("description", $("cat-description").value.trim());
      for (const [sha, kind] of picks) form.append(kind === "example" ? "examples" : "counter_examples", sha);
      for (const file of $("cat-upload").files) form.append("examples", file, file.name);
      $("create-status").textContent = "Teaching…";
      try {
        const c = await api("/categories", { method: "POST", body: form });
        $("create-status").textContent =
          `“${c.name}” has ${c.members} photos (sorted in ${c.resort.seconds.toFixed(2)} s).`;
        picks.clear();
        document.querySelectorAll("#picker li").forEach((li) => li.classList.remove("example", "counter"));
        count();
        loadList();
      } catch (err) {
        $("create-status").textContent = `Could not create it: ${err.message}`;
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
      $("cat-summary").textContent = `${c.members} photos · ${c.examples} examples · ` +
        `${c.counter_examples} counter-examples · version ${c.version ?? "–"} · ` +
        `threshold ${c.threshold ?? "–"}`;
      $("versions").replaceChildren(...c.versions.map((v) => {
        const li = el("li", {}, [el("strong", { textContent: `v${v.version}` }),
          el("span", { textContent: `${v.reason}${v.active ? " (active)" : ""}` }),
          el("span", { className: "hint", textContent: v.created_at || "" })]);
        if (!v.active) {
          const b = el("button", { className: "button ghost", type: "button", textContent: "Restore" });
          b.addEventListener("click", async () => {
            await postJSON(`${base}/versions/${v.version}/restore`);
            refresh();
          });
          li.append(b);
        }
        return li;
      }));
    }

    function card(p, buttons) {
      const img = el("img", { alt: p.path || p.sha256, loading: "lazy", title: "Why? (heat-map)" });
      thumb(img, p.thumbnail);
      img.addEventListener("click", () => explain(p));
      const row = el("div", { className: "row" });
      for (const [text, member] of buttons) {
        const b = el("button", { className: "button", type: "button", textContent: text });
        b.addEventListener("click", async () => {
          await postJSON(`${base}/corrections`, { sha256: p.sha256, member });
          li.remove();
          summary();
        });
        row.append(b);
      }
      const li = el("li", {}, [img, el("span", { className: "score", textContent: p.score.toFixed(2) }), row]);
      return li;
    }

    async function photos(reset) {
      if (reset) { offset = 0; $("photos").replaceChildren(); }
      const page = await api(`${base}/photos?limit=60&offset=${offset}`);
      $("photos").append(...page.photos.map((p) => card(p, [["Not this", false]])));
      offset += page.photos.length;
      $("photos-more").hidden = page.photos.length < 60;
    }

    async function review() {
      const { photos: items } = await api(`${base}/review?limit=24`);
      $("review").replaceChildren(...items.map((p) => card(p, [["In", true], ["Out", false]])));
    }

    async function explain(p) {
      $("explain").hidden = false;
      $("explain-caption").textContent = "Looking…";
      try {
        const resp = await fetch(`${API}/photos/${p.photo_id}/explain?category=${enc(name)}`,
          { headers: headers() });
        if (!resp.ok) throw new Error((await resp.json()).detail);
        $("explain-image").src = URL.createObjectURL(await resp.blob());
        $("explain-caption").textContent = `${p.path || p.sha256} — score ${p.score.toFixed(2)}`;
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

    $("explain-close").addEventListener("click", () => { $("explain").hidden = true; });
    $("photos-more").addEventListener("click", () => photos(false));
    $("retrain").addEventListener("click", () => job("/retrain"));
    $("grow").addEventListener("click", async () => {
      const status = $("report");
      try {
        const done = await waitJob(await postJSON(`${base}/grow`), status);
        status.textContent = (done.result?.reports || []).map((r) => `${r.category}: ${r.reason}`).join("\n")
          || `The job ${done.status}: ${done.message || ""}`;
      } catch (err) { status.textContent = err.message; }
      refresh();
    });
    $("delete").addEventListener("click", async () => {
      if (!window.confirm(`Delete the category “${name}”? Photos are not touched.`)) return;
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
      textContent: "Show where the model looked" });
    const overlay = el("img", { className: "heatmap", alt: "Heat-map of where the model looked", hidden: true });
    const note = el("p", { className: "hint", role: "status" });
    view.after(button, overlay, note);
    button.addEventListener("click", async () => {
      if (!overlay.hidden) {
        overlay.hidden = true; view.hidden = false;
        button.textContent = "Show where the model looked";
        return;
      }
      note.textContent = "Looking…";
      try {
        const resp = await fetch(`${API}/photos/${id}/explain`, { headers: headers() });
        if (!resp.ok) throw new Error((await resp.json()).detail);
        overlay.src = URL.createObjectURL(await resp.blob());
        overlay.hidden = false; view.hidden = true; note.textContent = "";
        button.textContent = "Show the photo";
      } catch (err) { note.textContent = `No heat-map: ${err.message}`; }
    });
  }

  if (view === "categories") initList();
  else if (view === "category") initCategory();
  else if (view === "photo") initPhotoHeatmap();
})();
