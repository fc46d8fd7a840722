// Smart Album search page: ask GET /api/v1/search and list the photos with why they matched.
// Like the gallery, nothing is inserted as HTML: elements are built and filled as text.
(() => {
  "use strict";
  const API = "/api/v1";
  const $ = (id) => document.getElementById(id);

  const { headers } = window.smartalbumKey;

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
    summary.textContent = `Searching for “${query}”…`;
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
      summary.textContent = "The search could not be run.";
      return;
    }
    const parts = [`${data.total} photo${data.total === 1 ? "" : "s"} for “${data.query}”`];
    if (data.unmatched.length) parts.push(`nothing matched ${data.unmatched.join(", ")}`);
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
      open.textContent = (r.photo && r.photo.path) || `Photo ${r.photo_id}`;
      node.querySelector(".score").textContent = `score ${r.score.toFixed(2)}`;
      const img = node.querySelector("img");
      img.alt = `Photo ${r.photo_id}`;
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
