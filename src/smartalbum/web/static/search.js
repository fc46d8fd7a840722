// Smart Album search page: ask GET /api/v1/search and list the photos with why they matched.
// Like the gallery, nothing is inserted as HTML: elements are built and filled as text.
(() => {
  "use strict";
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);

  const { headers } = window.smartalbumKey;
  const { number } = window.smartalbumI18n;

  function setThumb(img, url) {
    if (!window.smartalbumKey.get()) { img.src = url; return; }
    fetch(url, { headers: headers() })
      .then((resp) => (resp.ok ? resp.blob() : null))
      .then((blob) => { if (blob) img.src = URL.createObjectURL(blob); })
      .catch(() => {});
  }

  async function run() {
    const query = document.body.dataset.query || "";
    const summary = $("search-summary");
    const list = $("search-results");
    if (!query.trim()) return;
    summary.textContent = t("Searching for “{query}”…", { query });
    let data;
    try {
      const url = `${API}/search?${new URLSearchParams({ q: query, limit: "100" })}`;
      let resp = await fetch(url, { headers: headers() });
      // A 401: the page asks for the key (key.js) and searches again.
      for (let attempt = 0; resp.status === 401 && attempt < 5; attempt += 1) {
        await window.smartalbumKey.ask();
        resp = await fetch(url, { headers: headers() });
      }
      data = await resp.json();
      if (!resp.ok) {
        summary.textContent = `${data.title}: ${data.detail}`;
        return;
      }
    } catch (err) {
      summary.textContent = t("The search could not be run.");
      return;
    }
    const parts = [data.total === 1
      ? t("1 photo for “{query}”", { query: data.query })
      : t("{count} photos for “{query}”", { count: number(data.total), query: data.query })];
    if (data.unmatched.length) parts.push(t("nothing matched {words}", { words: data.unmatched.join(t(", ")) }));
    if (data.message) parts.push(data.message);
    summary.textContent = parts.join(" · ");
    const template = $("result-template");
    list.replaceChildren();
    for (const r of data.results) {
      const node = template.content.firstElementChild.cloneNode(true);
      const href = `/gallery/photos/${r.photo_id}`;
      const thumb = node.querySelector(".thumb");
      thumb.href = href;
      thumb.dataset.viewerPhoto = String(r.photo_id);  // opens the viewer (static/viewer.js)
      const open = node.querySelector(".open");
      open.href = href;
      // The file's name, not the server's folders (the whole path is the tooltip).
      const path = (r.photo && r.photo.path) || "";
      open.textContent = path.split(/[\\/]/).pop() || t("Photo {id}", { id: r.photo_id });
      if (path) open.title = path;
      const facts = [];
      if (r.photo && r.photo.label) facts.push(r.photo.label);
      if (r.photo && r.photo.taken_at) {
        facts.push(window.smartalbumI18n.date(new Date(r.photo.taken_at), { dateStyle: "medium" }));
      }
      const place = r.photo ? [r.photo.city, r.photo.country].filter(Boolean).join(t(", ")) : "";
      if (place) facts.push(place);
      node.querySelector(".search-meta").textContent = facts.join(" · ");
      node.querySelector(".score").textContent = t("score {score}",
        { score: number(r.score, { minimumFractionDigits: 2, maximumFractionDigits: 2 }) });
      const img = node.querySelector("img");
      img.alt = t("Photo {id}", { id: r.photo_id });
      if (r.photo) setThumb(img, r.photo.thumbnail);
      const why = node.querySelector(".why");
      for (const reason of r.why) {
        const li = document.createElement("li");
        li.textContent = reason;
        why.appendChild(li);
      }
      list.appendChild(node);
    }
  }

  document.addEventListener("DOMContentLoaded", run);
})();
